// The engine's Web Worker (a module worker): boots Pyodide, loads pe_engine, answers calls.
// All Python runs here, never on the page's main thread.
//
// Two boots: from the build's memory snapshot (fast), or the normal one. If the snapshot
// path fails the worker says so and the page starts a fresh worker for the normal boot.
//
// Everything a boot needs is requested the moment the "boot" message arrives: the wasm
// compiles (streaming, on V8's background threads) while the snapshot downloads and
// inflates, pyodide.asm.mjs and the standard library load beside them, and the stepper's
// photograph and default model input are fetched and decoded during the restore, so that
// "ready" already has the source set and the first call needs no round trip. Pyodide's own
// requests for those files are answered with the responses already under way.

const ENGINE_DIR = "/home/pyodide/engine"; // where pyodide_src/make_snapshot.mjs unpacks it too
let pyodide = null;
let api = null;
let unpackLater = null; // after a snapshot boot the engine's files are unpacked after the first answer

const post = (msg) => self.postMessage({ ...msg, at: Date.now() }); // at: for the page's timeline
const phase = (text) => post({ type: "phase", text });
const fileName = (url) => String(url).split("/").pop();
const abs = (url) => new URL(url, self.location.href).href;
const quiet = (promise) => { promise.catch(() => {}); return promise; };

// A missing file or a wrong MIME type makes loadPyodide hang forever, so each response is
// looked at before Pyodide gets it.
async function checked(responsePromise, url, expectType = null) {
  const response = await responsePromise.catch(() => null);
  if (!response) throw new Error(`${fileName(url)} could not be reached`);
  if (!response.ok) throw new Error(`${fileName(url)} answered HTTP ${response.status}`);
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  if (expectType && type !== expectType) {
    throw new Error(`${fileName(url)} is served as "${type || "no type"}", expected ${expectType}`);
  }
  return response;
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

// The snapshot is served gzipped (the .gz file itself, on every host) and inflated here,
// while it downloads. A host that adds Content-Encoding: gzip has the browser inflate it.
async function snapshotBytes(url) {
  const response = await checked(fetch(url), url);
  const decoded = /gzip/i.test(response.headers.get("content-encoding") || "");
  const body = decoded ? response.body : response.body.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(body).arrayBuffer());
  if (bytes.byteLength < 1 << 20) throw new Error(`snapshot is implausibly small (${bytes.byteLength} bytes)`);
  return bytes;
}

// The runtime's own files, requested at once. Returns the checks (a rejection names the
// file), and installs the answers for Pyodide: a fetch shim hands it the responses already
// under way, and instantiateStreaming uses the module compiled here.
function startRuntime(urls) {
  const wasmUrl = abs(urls.indexURL + "pyodide.asm.wasm");
  const stdlibUrl = abs(urls.indexURL + "python_stdlib.zip");
  const wasm = checked(fetch(wasmUrl), wasmUrl, "application/wasm");
  const compiled = quiet(wasm.then((response) => WebAssembly.compileStreaming(response)));
  const stdlib = checked(fetch(stdlibUrl), stdlibUrl);
  const lock = quiet(fetch(abs(urls.indexURL + "pyodide-lock.json")).then((r) => r.json()));
  quiet(import(urls.indexURL + "pyodide.asm.mjs")); // compiles while the rest downloads
  const answers = new Map([
    [stdlibUrl, stdlib],
    // Pyodide fetches the wasm itself to instantiate it streaming: it gets an empty stand-in,
    // and instantiateStreaming below uses the module compiled from the real response.
    [wasmUrl, Promise.resolve(new Response(new ArrayBuffer(0), { headers: { "content-type": "application/wasm" } }))],
  ]);
  const realFetch = self.fetch.bind(self);
  self.fetch = (input, init) => {
    const key = abs(typeof input === "string" || input instanceof URL ? String(input) : input.url);
    const hit = (!init?.method || init.method === "GET") && answers.get(key);
    if (hit) { answers.delete(key); return hit; }
    return realFetch(input, init);
  };
  WebAssembly.instantiateStreaming = async (_source, imports) => {
    const module = await compiled;
    return { module, instance: await WebAssembly.instantiate(module, imports) };
  };
  return { checks: Promise.all([wasm, stdlib]), compiled, lock };
}

// The stepper's photograph and its default model input, decoded to RGB bytes.
function startPhoto(photo) {
  if (!photo?.image) return null;
  const decode = (url, size) => fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${fileName(url)} answered HTTP ${r.status}`);
    return r.blob();
  }).then((blob) => import("./upload.js").then(({ decodeSquare }) => decodeSquare(blob, size)));
  return quiet(Promise.all([decode(photo.image, photo.sourceSize), photo.input ? decode(photo.input, photo.size) : null]));
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
  const runtime = startRuntime(urls);
  const engineZip = quiet(checked(fetch(urls.engine), urls.engine).then((r) => r.arrayBuffer()));
  const pyodideModule = quiet(import(urls.indexURL + "pyodide.mjs"));
  const snapshot = useSnapshot
    ? quiet(snapshotBytes(urls.snapshot).then((bytes) => { phase("Restoring Python from snapshot…"); return bytes; }))
    : null;
  // The photograph waits for the snapshot's bytes: it is needed only after the restore, and
  // so never competes with the runtime (or the page) for the first requests.
  const pixels = quiet((snapshot || runtime.compiled).then(() => startPhoto(urls.photo), () => null));
  await runtime.checks;
  await engineZip; // its 404 is a failure with the file's name, before Python starts
  const { loadPyodide } = await pyodideModule;
  const options = { indexURL: urls.indexURL, lockFileContents: runtime.lock };
  if (useSnapshot) {
    pyodide = await load(loadPyodide, { ...options, _loadSnapshot: snapshot }, snapshot.then(() => new Promise(() => {})));
  } else {
    phase("Starting Python…");
    pyodide = await load(loadPyodide, options);
  }
  phase("Loading engine…");
  // The snapshot holds the imported modules but not their files, which only tracebacks
  // read: they are unpacked after the first answer. A normal boot needs them to import.
  const unpack = async () => pyodide.unpackArchive(new Uint8Array(await engineZip), "zip", { extractDir: ENGINE_DIR });
  if (useSnapshot) unpackLater = unpack;
  else await unpack();
  const build = importEngine();
  if (build !== urls.engineHash) throw new Error(`engine ${build} does not match the page's ${urls.engineHash}`);
  api = pyodide.pyimport("pe_engine.worker_api");
  let source = false;
  if (urls.photo) {
    try {
      const [photo, input] = await pixels;
      api.set_source(photo, urls.photo.sourceSize, input || undefined, input ? urls.photo.size : 0);
      source = true;
    } catch (err) {
      post({ type: "warn", text: `the photograph could not be decoded in the worker (${err.message}); the page sends it` });
    }
  }
  post({ type: "ready", version: pyodide.version, snapshot: useSnapshot, source, ms: performance.now() - t0 });
}

function unpackSoon() {
  if (!unpackLater) return;
  const unpack = unpackLater;
  unpackLater = null;
  setTimeout(() => unpack().catch((err) => post({ type: "warn", text: `the engine's files could not be unpacked (${err.message})` })), 0);
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
      unpackSoon();
    } else if (msg.type === "source") {
      api.set_source(msg.bytes, msg.size, msg.primed || undefined, msg.primedSize || 0);
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
