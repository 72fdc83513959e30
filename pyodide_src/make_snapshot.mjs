#!/usr/bin/env node
// Build-time Pyodide memory snapshot with pe_engine pre-imported.
//
//   node pyodide_src/make_snapshot.mjs --pyodide DIR --engine ENGINE.zip --out SNAPSHOT.bin.gz
//          [--extract-dir /home/pyodide/engine] [--stdlib mod1,mod2,...] [--no-verify]
//
// DIR must be the vendored runtime the site serves (pyodide.mjs, pyodide.asm.mjs,
// pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json): a snapshot only loads
// into the exact build it was made with (pyodide.mjs carries a BUILD_ID, a hash of
// pyodide.asm.mjs + pyodide.asm.wasm, that restoreSnapshot compares), and the
// restored interpreter re-reads the very same python_stdlib.zip (zipimport offsets
// are cached in the snapshot).
//
// Uses only Node built-ins. Exit code 0 on success, 1 on any failure, 2 on bad usage.

import { parseArgs } from "node:util";
import { readFile, writeFile, stat } from "node:fs/promises";
import { gzipSync, gunzipSync, constants as zc } from "node:zlib";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

// Keep in sync with the worker: the browser boots with the same defaults
// (HOME=/home/pyodide, no args, no packages). os.environ is captured in the snapshot.
const DEFAULT_EXTRACT_DIR = "/home/pyodide/engine";
// Stdlib modules the engine uses. Stdlib imports after restore also work (the
// stdlib zip is re-installed into MEMFS on every load) but cost time in the browser.
const DEFAULT_STDLIB = [
  "math", "random", "json", "array", "struct", "collections", "itertools",
  "functools", "statistics", "fractions", "decimal", "bisect", "heapq",
  "operator", "dataclasses", "typing", "enum", "re",
];
const RUNTIME_FILES = [
  "pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json",
];

function fail(msg, code = 1) {
  console.error(`make_snapshot: ERROR: ${msg}`);
  process.exit(code);
}
const mb = (n) => `${(n / 1048576).toFixed(2)} MB`;
const ms = (t) => `${Math.round(t)} ms`;

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      pyodide: { type: "string" },
      engine: { type: "string" },
      out: { type: "string" },
      "extract-dir": { type: "string", default: DEFAULT_EXTRACT_DIR },
      stdlib: { type: "string" },
      "no-verify": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  }));
} catch (e) {
  fail(`${e.message}\nusage: node make_snapshot.mjs --pyodide DIR --engine ENGINE.zip --out SNAPSHOT.bin.gz`, 2);
}
if (opts.help || !opts.pyodide || !opts.engine || !opts.out) {
  console.error("usage: node make_snapshot.mjs --pyodide DIR --engine ENGINE.zip --out SNAPSHOT.bin.gz " +
    "[--extract-dir DIR] [--stdlib m1,m2] [--no-verify]");
  process.exit(opts.help ? 0 : 2);
}

const pyodideDir = path.resolve(opts.pyodide);
const enginePath = path.resolve(opts.engine);
const outPath = path.resolve(opts.out);
const extractDir = opts["extract-dir"];
const stdlibMods = opts.stdlib !== undefined
  ? opts.stdlib.split(",").map((s) => s.trim()).filter(Boolean)
  : DEFAULT_STDLIB;

for (const f of RUNTIME_FILES) {
  try {
    await stat(path.join(pyodideDir, f));
  } catch {
    fail(`${path.join(pyodideDir, f)} not found (--pyodide must be the vendored runtime directory)`);
  }
}
let engineBytes;
try {
  engineBytes = new Uint8Array(await readFile(enginePath));
} catch (e) {
  fail(`cannot read engine zip ${enginePath}: ${e.message}`);
}

// Python run inside the interpreter before the snapshot. Returns a JSON string
// (never a PyProxy: live JS<->Python references that are not reachable from
// globalThis make makeMemorySnapshot() throw "Can't serialize object").
const IMPORT_ALL = `
import sys, importlib, pkgutil, json
extract_dir = ${JSON.stringify(extractDir)}
if extract_dir not in sys.path:
    sys.path.insert(0, extract_dir)
importlib.invalidate_caches()
for _m in ${JSON.stringify(stdlibMods)}:
    importlib.import_module(_m)
import pe_engine
_mods = ["pe_engine"]
for _info in pkgutil.walk_packages(pe_engine.__path__, "pe_engine."):
    importlib.import_module(_info.name)
    _mods.append(_info.name)
_origin = pe_engine.__file__
json.dumps({
    "modules": _mods,
    "version": getattr(pe_engine, "__version__", None),
    "build": getattr(pe_engine, "__build__", None),
    "origin": _origin,
    "python": sys.version.split()[0],
    "n_modules": len(sys.modules),
})
`;

const VERIFY = `
import sys, json
import pe_engine
_r = {"build": getattr(pe_engine, "__build__", None),
      "submodules": sorted(m for m in sys.modules if m.startswith("pe_engine."))}
import os
_r["engine_dir_exists"] = os.path.isdir(${JSON.stringify(extractDir)})
try:
    import tomllib  # stdlib, not imported at snapshot time
    _r["late_stdlib_import"] = "ok"
except Exception as e:
    _r["late_stdlib_import"] = repr(e)
json.dumps(_r)
`;

async function main() {
  const t0 = performance.now();
  let loadPyodide, version;
  try {
    ({ loadPyodide, version } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href));
  } catch (e) {
    fail(`cannot import ${pyodideDir}/pyodide.mjs: ${e.message}`);
  }
  const pyout = [];
  const pyodide = await loadPyodide({
    indexURL: pyodideDir + path.sep,
    _makeSnapshot: true,
    // same (default) env/args/packages as the browser load; do not add packages here
    stdout: (s) => pyout.push(s),
    stderr: (s) => console.error(`[python] ${s}`),
  });
  const tLoad = performance.now();

  try {
    // must be a plain Uint8Array: a Node Buffer makes unpackArchive throw "Unknown typed array type 'Buffer'"
    pyodide.unpackArchive(engineBytes, "zip", { extractDir });
  } catch (e) {
    fail(`cannot unpack ${enginePath} as a zip into ${extractDir}: ${String(e.message).split("\n").slice(-2).join(" ")}`);
  }
  let info;
  try {
    info = JSON.parse(pyodide.runPython(IMPORT_ALL));
  } catch (e) {
    fail(`importing pe_engine failed:\n${e.message}`);
  }
  const tImport = performance.now();

  let raw;
  try {
    raw = pyodide.makeMemorySnapshot();
  } catch (e) {
    fail(`makeMemorySnapshot failed: ${e.message}`);
  }
  const tSnap = performance.now();
  const gz = gzipSync(raw, { level: 9, memLevel: 9, strategy: zc.Z_DEFAULT_STRATEGY });
  const tGzip = performance.now();
  await writeFile(outPath, gz);

  console.log(`pyodide ${version} (Python ${info.python}) from ${pyodideDir}`);
  console.log(`engine  ${enginePath} -> ${extractDir}: ${info.modules.join(", ")}`);
  console.log(`        __version__=${info.version} __build__=${info.build}; sys.modules=${info.n_modules}`);
  console.log(`snapshot raw ${mb(raw.length)}  gzip-9 ${mb(gz.length)} -> ${outPath}`);
  console.log(`timing  load ${ms(tLoad - t0)}  imports ${ms(tImport - tLoad)}  ` +
    `snapshot ${ms(tSnap - tImport)}  gzip ${ms(tGzip - tSnap)}  total ${ms(tGzip - t0)}`);

  if (!opts["no-verify"]) {
    // Round-trip: restore the gzipped file we just wrote in a fresh interpreter.
    const tv0 = performance.now();
    const bytes = gunzipSync(await readFile(outPath));
    const py2 = await loadPyodide({ indexURL: pyodideDir + path.sep, _loadSnapshot: bytes });
    const v = JSON.parse(py2.runPython(VERIFY));
    const tv1 = performance.now();
    if (v.build !== info.build) fail(`verify: restored __build__ ${v.build} != ${info.build}`);
    const missing = info.modules.filter((m) => m !== "pe_engine" && !v.submodules.includes(m));
    if (missing.length) fail(`verify: submodules missing after restore: ${missing.join(", ")}`);
    if (v.late_stdlib_import !== "ok") fail(`verify: stdlib import after restore failed: ${v.late_stdlib_import}`);
    console.log(`verify  restored OK in ${ms(tv1 - tv0)}; engine dir in MEMFS after restore: ` +
      `${v.engine_dir_exists ? "present" : "absent (expected: MEMFS is not in the snapshot)"}`);
  }
  if (pyout.length) console.log(`[python stdout] ${pyout.join("\n")}`);
  const build = info.build;
  if (typeof build !== "string" || !build) {
    console.warn("make_snapshot: WARNING: pe_engine has no __build__ string; the browser cannot check it");
  }
}

main().then(
  () => process.exit(0),
  (e) => fail(e && e.stack ? e.stack : String(e)),
);
