// Pyodide half of the pe_engine benchmark: run bench_engine.time_calls (beside this
// file) inside Pyodide (Node) and print one JSON line
// {"python": ..., "times": {name: ms}, "fingerprints": {name: sha256}}.
// Usage: node tests/bench/engine_pyodide.mjs [repeats] [--fingerprints-only]
import { loadPyodide } from "../../node_modules/pyodide/pyodide.mjs";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..", "..", "pyodide_src", "pe_engine");
const repeats = Number(process.argv[2] || 7);
const timing = !process.argv.includes("--fingerprints-only");

const pyodide = await loadPyodide();
pyodide.FS.mkdirTree("/engine/pe_engine");
for (const name of readdirSync(pkgDir)) {
  if (name.endsWith(".py")) {
    pyodide.FS.writeFile(`/engine/pe_engine/${name}`, readFileSync(join(pkgDir, name)));
  }
}
pyodide.FS.writeFile("/engine/bench_engine.py", readFileSync(join(here, "bench_engine.py")));
const out = pyodide.runPython(`
import json, sys
sys.path.insert(0, "/engine")
from bench_engine import fingerprints, time_calls
json.dumps({"python": sys.version.split()[0],
            "times": time_calls(${repeats}) if ${timing ? "True" : "False"} else {},
            "fingerprints": fingerprints()})
`);
console.log(out);
