// Starts the engine's worker as early as possible. This module has no imports and loads
// async, so it runs before the article has finished its first layout; the worker's first
// messages wait in `early` until engine.js (via main.js) takes the worker over.

const runtime = JSON.parse(document.getElementById("runtime-data").textContent);
const url = (rel) => new URL(runtime.root + rel, document.baseURI).href;

export const urls = {
  worker: new URL("./worker.js", import.meta.url).href,
  indexURL: url(runtime.pyodide_dir),
  engine: url(runtime.engine),
  engineHash: runtime.engine_hash,
  snapshot: runtime.snapshot ? url(runtime.snapshot) : null,
};

export const early = {
  worker: new Worker(urls.worker, { type: "module", name: "pe-engine" }),
  useSnapshot: Boolean(urls.snapshot),
  started: Math.round(performance.now()),
  messages: [],
  errors: [],
};
early.worker.onmessage = (event) => early.messages.push(event);
early.worker.onerror = (event) => { event.preventDefault(); early.errors.push(event); };
early.worker.postMessage({ type: "boot", urls, snapshot: early.useSnapshot });
