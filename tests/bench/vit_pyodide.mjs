// Pyodide half of the digit-ViT benchmark: load the committed weights into
// pe_engine.vit inside Pyodide (Node) and print one JSON line
// {"python": ..., "times": {name: median ms}, "correct": {name: count}}.
// Usage: node tests/bench/vit_pyodide.mjs [repeats]
import { loadPyodide } from "../../node_modules/pyodide/pyodide.mjs";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const pkgDir = join(root, "pyodide_src", "pe_engine");
const repeats = Number(process.argv[2] || 7);

const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/engine/pe_engine");
for (const name of readdirSync(pkgDir)) {
  if (name.endsWith(".py")) {
    pyodide.FS.writeFile(`/engine/pe_engine/${name}`, readFileSync(join(pkgDir, name)));
  }
}
pyodide.FS.writeFile("/engine/weights.safetensors",
                     readFileSync(join(root, "content", "models", "vit_digits.safetensors")));
pyodide.FS.writeFile("/engine/bench_vit_calls.py", readFileSync(join(here, "bench_vit_calls.py")));
pyodide.FS.writeFile("/engine/bench_engine.py", readFileSync(join(here, "bench_engine.py")));
const out = pyodide.runPython(`
import json, sys
sys.path.insert(0, "/engine")
from bench_vit_calls import run
with open("/engine/weights.safetensors", "rb") as f:
    data = f.read()
json.dumps(dict(run(data, ${repeats}), python=sys.version.split()[0]))
`);
console.log(out);
