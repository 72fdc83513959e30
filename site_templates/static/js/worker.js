// The engine's Web Worker (a module worker): boots Pyodide, loads pe_engine, answers calls.
// All Python runs here, never on the page's main thread.

const ENGINE_DIR = "/home/pyodide/engine";
let pyodide = null;
let api = null;

const post = (msg) => self.postMessage(msg);
const phase = (text) => post({ type: "phase", text });

// A wrong MIME type or a missing file makes loadPyodide hang forever, so look first.
async function precheck(url, expectType) {
  const response = await fetch(url, { method: "HEAD", cache: "no-cache" }).catch(() => null);
  if (!response) throw new Error(`${url.split("/").pop()} could not be reached`);
  if (!response.ok) throw new Error(`${url.split("/").pop()} answered HTTP ${response.status}`);
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (expectType && type !== expectType) {
    throw new Error(`${url.split("/").pop()} is served as "${type || "no type"}", expected ${expectType}`);
  }
}

async function gunzip(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`snapshot answered HTTP ${response.status}`);
  const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function boot(urls, useSnapshot) {
  const t0 = performance.now();
  phase("Downloading runtime…");
  await Promise.all([
    precheck(urls.indexURL + "pyodide.asm.wasm", "application/wasm"),
    precheck(urls.indexURL + "python_stdlib.zip"),
    useSnapshot ? precheck(urls.snapshot) : precheck(urls.engine),
  ]);
  const { loadPyodide } = await import(urls.indexURL + "pyodide.mjs");
  if (useSnapshot) {
    const snapshot = await gunzip(urls.snapshot);
    phase("Restoring Python from snapshot…");
    pyodide = await loadPyodide({ indexURL: urls.indexURL, _loadSnapshot: snapshot });
    phase("Loading engine…");
    const build = pyodide.runPython("import pe_engine; getattr(pe_engine, '__build__', '')");
    if (build !== urls.engineHash) throw new Error(`snapshot holds engine ${build || "?"}, page wants ${urls.engineHash}`);
  } else {
    phase("Starting Python…");
    pyodide = await loadPyodide({ indexURL: urls.indexURL });
    phase("Loading engine…");
    const response = await fetch(urls.engine);
    if (!response.ok) throw new Error(`engine archive answered HTTP ${response.status}`);
    pyodide.unpackArchive(await response.arrayBuffer(), "zip", { extractDir: ENGINE_DIR });
    pyodide.runPython(`import sys\nif ${JSON.stringify(ENGINE_DIR)} not in sys.path: sys.path.insert(0, ${JSON.stringify(ENGINE_DIR)})`);
  }
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
      post({ type: "result", id: msg.id, json: api.call(msg.name, msg.kwargs) });
    } else if (msg.type === "source") {
      api.set_source(msg.bytes, msg.size);
      post({ type: "result", id: msg.id, json: '{"result": true}' });
    }
  } catch (err) {
    // A Python error outside worker_api's own handling: report it, stay alive.
    post({ type: "error", id: msg.id, message: String(err?.message || err).split("\n").slice(-2).join(" ") });
  }
};
