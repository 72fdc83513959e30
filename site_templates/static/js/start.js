// Starts the engine's worker before the article is parsed. A classic, parser-blocking script
// of about 2 KB with no imports, placed first in <head> right after its data (runtime-data):
// the worker then boots while the main thread parses, styles and lays out the long page.
// boot.js hands what it made to main.js, which takes the worker over (engine.js).
//
// The runtime never competes with the article (README, "How the page works"):
// - a fast connection: the worker starts downloading the runtime at once;
// - a slow one (the Network Information API's effective type is 3g or slower, as Chrome
//   estimates it from the round-trip times and throughput it sees): only after the page's own
//   content has loaded (the load event), or at once when the reader uses a figure;
// - Save-Data: only when the reader uses a figure.
// (navigator.connection.downlink alone is no guide: before any traffic Chrome reports a prior
// of about 1.5 Mbps on any line.) Without the API (Safari, Firefox) the boot starts at once.
(() => {
  const data = document.getElementById("runtime-data");
  if (!data || typeof Worker === "undefined") return;
  const runtime = JSON.parse(data.textContent);
  const url = (rel) => new URL(runtime.root + rel, document.baseURI).href;
  const photo = runtime.photo;
  const urls = {
    worker: url(runtime.static + "js/worker.js"),
    indexURL: url(runtime.pyodide_dir),
    engine: url(runtime.engine),
    engineHash: runtime.engine_hash,
    snapshot: runtime.snapshot ? url(runtime.snapshot) : null,
    // The stepper's photograph (the engine's exact pixels) and its model input at the
    // default size (the build's PNG, the same bytes the engine computes): the worker
    // fetches and decodes both while Pyodide restores, so the first call needs no round trip.
    photo: photo ? { image: url(photo.image), sourceSize: photo.source_size, input: photo.input && url(photo.input), size: photo.size } : null,
  };
  const c = navigator.connection;
  const slow = c && /^(slow-2g|2g|3g)$/.test(c.effectiveType);
  const early = {
    worker: new Worker(urls.worker, { type: "module", name: "pe-engine" }),
    useSnapshot: Boolean(urls.snapshot),
    started: Math.round(performance.now()),
    hold: c && c.saveData ? "save-data" : slow ? "slow" : null,
    downloadMB: runtime.download_mb,
    booted: null, // { why, at } once the boot message went out
    onboot: null, // engine.js: called when a held boot starts
    messages: [],
    errors: [],
  };
  early.worker.onmessage = (event) => early.messages.push(event);
  early.worker.onerror = (event) => { event.preventDefault(); early.errors.push(event); };
  const boot = (why) => {
    if (early.booted) return;
    early.booted = { why, at: Math.round(performance.now()) };
    early.worker.postMessage({ type: "boot", urls, snapshot: early.useSnapshot });
    if (early.onboot) early.onboot();
  };
  if (!early.hold) boot("fast connection");
  else {
    if (early.hold === "slow") addEventListener("load", () => boot("page loaded"), { once: true });
    const touched = (e) => { if (e.target && e.target.closest && e.target.closest(".component")) boot("reader"); };
    for (const type of ["pointerdown", "keydown", "focusin"]) addEventListener(type, touched, { capture: true, passive: true });
  }
  window.peBoot = { urls, early, boot };
})();
