// The engine's Web Worker (a module worker): boots Pyodide, loads pe_engine, answers calls.
// All Python runs here, never on the page's main thread.
//
// Two boots: from the build's memory snapshot (fast), or the normal one. If the snapshot
// path fails the worker says so and the page starts a fresh worker for the normal boot.

const ENGINE_DIR = "/home/pyodide/engine"; // where pyodide_src/make_snapshot.mjs unpacks it too
let pyodide = null;
let api = null;

const post = (msg) => self.postMessage({ ...msg, at: Date.now() }); // at: for the page's timeline
const phase = (text) => post({ type: "phase", text });
const fileName = (url) => url.split("/").pop();

// A missing file or a wrong MIME type makes loadPyodide hang forever, so look first.
async function precheck(url, expectType) {
  const response = await fetch(url, { method: "HEAD" }).catch(() => null);
  if (!response) throw new Error(`${fileName(url)} could not be reached`);
  if (!response.ok) throw new Error(`${fileName(url)} answered HTTP ${response.status}`);
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (expectType && type !== expectType) {
    throw new Error(`${fileName(url)} is served as "${type || "no type"}", expected ${expectType}`);
  }
}

// Pyodide swallows a failed wasm compile and never settles: turn that into a rejection.
function watchWasm() {
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  failed.catch(() => {});
  const original = { instantiateStreaming: WebAssembly.instantiateStreaming, instantiate: WebAssembly.instantiate };
  for (const name of Object.keys(original)) {
    WebAssembly[name] = (...args) => original[name].apply(WebAssembly, args).catch((err) => {
      fail(new Error(`pyodide.asm.wasm could not be compiled (${err.message || err})`));
      throw err;
    });
  }
  return { failed, restore: () => Object.assign(WebAssembly, original) };
}

// Python's own complaints while it starts (a damaged python_stdlib.zip gives "Fatal Python
// error: Failed to import encodings module" and then "Program terminated with exit(1)") are
// collected for the failure message instead of going to the console as errors.
async function load(loadPyodide, options, ...failFast) {
  const watch = watchWasm();
  const said = [];
  let booting = true;
  const stderr = (line) => (booting ? said.length < 50 && said.push(line) : console.error(line));
  try {
    return await Promise.race([loadPyodide({ ...options, stderr }), watch.failed, ...failFast]);
  } catch (err) {
    const fatal = said.find((line) => line.includes("Fatal Python error"))?.trim();
    if (!fatal) throw err;
    const stdlib = said.some((line) => /encodings|zipimport|python_stdlib/.test(line));
    throw new Error(stdlib ? `python_stdlib.zip looks damaged: Python could not read its standard library (${fatal})`
                           : `Python could not start (${fatal})`);
  } finally {
    booting = false;
    watch.restore();
  }
}

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${fileName(url)} answered HTTP ${response.status}`);
  return response;
}

async function gunzip(url) {
  const response = await fetchOk(url);
  const gzipped = !/gzip/i.test(response.headers.get("content-encoding") || "");
  const body = gzipped ? response.body.pipeThrough(new DecompressionStream("gzip")) : response.body;
  const bytes = new Uint8Array(await new Response(body).arrayBuffer());
  if (bytes.byteLength < 1 << 20) throw new Error(`snapshot is implausibly small (${bytes.byteLength} bytes)`);
  return bytes;
}

function importEngine() {
  return pyodide.runPython(`
import sys
if ${JSON.stringify(ENGINE_DIR)} not in sys.path:
    sys.path.insert(0, ${JSON.stringify(ENGINE_DIR)})
import pe_engine, pe_engine.worker_api
pe_engine.__build__`);
}

async function boot(urls, useSnapshot) {
  const t0 = performance.now();
  phase("Downloading runtime…");
  // The checks, the engine archive, pyodide.mjs and the snapshot all start at once; only
  // loadPyodide waits for the checks (it is the call that would hang).
  const checks = Promise.all([
    precheck(urls.indexURL + "pyodide.asm.wasm", "application/wasm"),
    precheck(urls.indexURL + "python_stdlib.zip"),
    precheck(urls.engine),
  ]);
  const engineZip = fetchOk(urls.engine).then((r) => r.arrayBuffer());
  engineZip.catch(() => {});
  const runtime = import(urls.indexURL + "pyodide.mjs");
  runtime.catch(() => {});
  // Pyodide fetches the wasm and stdlib while the snapshot downloads (it takes a promise).
  const snapshot = useSnapshot
    ? gunzip(urls.snapshot).then((bytes) => { phase("Restoring Python from snapshot…"); return bytes; })
    : null;
  snapshot?.catch(() => {});
  await checks;
  const { loadPyodide } = await runtime;
  if (useSnapshot) {
    pyodide = await load(loadPyodide, { indexURL: urls.indexURL, _loadSnapshot: snapshot },
                         snapshot.then(() => new Promise(() => {})));
  } else {
    phase("Starting Python…");
    pyodide = await load(loadPyodide, { indexURL: urls.indexURL });
  }
  phase("Loading engine…");
  // Also after a snapshot: it holds the imported modules but not their files.
  pyodide.unpackArchive(new Uint8Array(await engineZip), "zip", { extractDir: ENGINE_DIR });
  const build = importEngine();
  if (build !== urls.engineHash) throw new Error(`engine ${build} does not match the page's ${urls.engineHash}`);
  api = pyodide.pyimport("pe_engine.worker_api");
  post({ type: "ready", version: pyodide.version, snapshot: useSnapshot, ms: performance.now() - t0 });
}

self.onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "boot") {
    try {
      await boot(msg.urls, msg.snapshot);
    } catch (err) {
      post({ type: "failed", text: String(err?.message || err).split("\n")[0] });
    }
    return;
  }
  try {
    if (msg.type === "call") {
      const answer = api.call(msg.name, msg.kwargs);
      const json = answer.get(0);
      const bytesProxy = answer.get(1);
      const bytes = typeof bytesProxy === "string" ? new Uint8Array() : bytesProxy.toJs();
      bytesProxy.destroy?.();
      answer.destroy();
      self.postMessage({ type: "result", id: msg.id, json, bytes }, [bytes.buffer]);
    } else if (msg.type === "source") {
      api.set_source(msg.bytes, msg.size);
      post({ type: "result", id: msg.id, json: '{"result": true}' });
    } else if (msg.type === "file") {
      api.set_file(msg.path, msg.bytes);
      post({ type: "result", id: msg.id, json: '{"result": true}' });
    }
  } catch (err) {
    // A Python error outside worker_api's own handling: report it, stay alive.
    post({ type: "error", id: msg.id, message: String(err?.message || err).split("\n").slice(-2).join(" ") });
  }
};
