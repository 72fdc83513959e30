// The page's side of the engine: starts the Pyodide worker, reports its phases, and
// turns calls into promises. The main thread never waits on Python.
//
// Boot order: a worker restores the build's memory snapshot; if that fails for any
// reason it is replaced by a fresh worker that boots Pyodide normally. Each attempt
// has a deadline, so a runtime that never settles (a broken wasm) ends in a message.

const SNAPSHOT_DEADLINE_MS = 15000;
const BOOT_DEADLINE_MS = 25000;
const CALL_DEADLINE_MS = 30000;
// What the status line says while the runtime's download is held back (start.js).
const HELD = {
  slow: (size) => `Your connection looks slow, so the live engine (${size}) will download once the article has loaded, or as soon as you use a figure. Until then the figures show numbers computed when this page was built.`,
  "save-data": (size) => `Data Saver is on, so the live engine (${size}) downloads only when you use a figure. Until then the figures show numbers computed when this page was built.`,
};
// ...and while it downloads after such a hold.
const HELD_DOWNLOADING = {
  slow: (size) => `Your connection looks slow: the live engine (${size}) is downloading now that the article has loaded, which can take a while. The figures show numbers computed when this page was built until then.`,
  "save-data": (size) => `Downloading the live engine (${size}), as you started using a figure. The figures show numbers computed when this page was built until it is ready.`,
};
const sizeText = (early) => (early?.downloadMB ? `about ${early.downloadMB} MB` : "several megabytes");

export class Engine {
  constructor(urls) {
    this.urls = urls; // { worker, indexURL, engine, engineHash, snapshot, photo }: see start.js
    // setPrepare(fn): fn runs once the worker is up, before "ready" is announced. The worker
    // starts before the page has parsed, so the page may hand it in later.
    this.prepared = new Promise((resolve) => { this.setPrepare = resolve; });
    this.listeners = new Set();
    this.pending = new Map();
    this.nextId = 1;
    this.state = "idle";
    this.ready = new Promise((resolve, reject) => { this._resolve = resolve; this._reject = reject; });
    this.ready.catch(() => {});
  }

  onStatus(fn) {
    this.listeners.add(fn);
    if (this.last) fn(this.last);
  }

  // `forReader`: the text is already in a reader's words (the page shows it as it is); the
  // others are the engine's own account, which the page keeps for its tooltip.
  status(state, text, forReader = false) {
    this.state = state;
    this.last = { state, text, forReader };
    for (const fn of this.listeners) fn(this.last);
  }

  // early: the worker start.js created (with the messages it has sent so far). On a slow
  // connection or with Save-Data its boot is held back (see start.js); the deadlines start
  // with the boot.
  start(early = null) {
    this.timeline = [{ type: "start", received: early?.started ?? Math.round(performance.now()) }];
    if (!early) return this.attempt(Boolean(this.urls.snapshot));
    this.held = early.hold ? early : null; // the status line words the download for the reader
    if (early.booted) return this.attempt(early.useSnapshot, early);
    this.status("waiting", HELD[early.hold](sizeText(early)), true);
    early.onboot = () => {
      this.timeline.push({ type: "boot", text: early.booted.why, received: early.booted.at });
      this.attempt(early.useSnapshot, early);
    };
  }

  attempt(useSnapshot, early = null) {
    const worker = early?.worker ?? new Worker(this.urls.worker, { type: "module", name: "pe-engine" });
    this.worker = worker;
    const deadline = useSnapshot ? SNAPSHOT_DEADLINE_MS : BOOT_DEADLINE_MS;
    let settled = false;
    let booted = false; // Python is up: a later failure (preparing the photograph) is no snapshot's fault
    const fail = (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.terminate();
      if (useSnapshot && !booted) {
        // Expected on a stale or damaged snapshot: a warning, then the normal boot.
        console.warn(`pe-engine: snapshot boot failed (${reason}); booting Pyodide normally`);
        this.status("loading", "Snapshot unusable, starting Python the normal way (slower)…");
        this.attempt(false);
      } else {
        this.status("failed", `The interactive figures could not start (${reason}). The pre-computed figures still work: they show the numbers computed when the page was built.`, true);
        this._reject(new Error(reason));
      }
    };
    const timer = setTimeout(() => fail(`no answer within ${deadline / 1000} s`), deadline);
    worker.onmessage = (event) => {
      const msg = event.data;
      if (msg.type !== "result" && msg.type !== "error") {
        // Where boot time goes: when the worker sent each message, and when the page got it.
        this.timeline.push({ type: msg.type, text: msg.text, snapshot: useSnapshot,
                             sent: Math.round(msg.at - performance.timeOrigin), received: Math.round(performance.now()) });
      }
      if (msg.type === "phase") {
        const held = this.held && msg.text.startsWith("Downloading") && HELD_DOWNLOADING[this.held.hold];
        this.status("loading", held ? held(sizeText(this.held)) : msg.text, Boolean(held));
      }
      else if (msg.type === "warn") console.warn(`pe-engine: ${msg.text}`);
      else if (msg.type === "failed") fail(msg.text);
      else if (msg.type === "ready") {
        booted = true;
        worker.onerror = (e) => this.crashed(e.message || "worker error");
        this.live = true;
        this.sourceReady = Boolean(msg.source); // the worker decoded the photograph itself
        if (!this.sourceReady) this.status("loading", "Loading the photograph into the engine…");
        this.prepared.then((prepare) => prepare?.(this)).then(() => {
          settled = true;
          clearTimeout(timer);
          this.status("ready", `Live engine ready (Pyodide ${msg.version}${msg.snapshot ? ", from snapshot" : ""}, ${Math.round(msg.ms)} ms)`);
          this._resolve(this);
        }, (err) => { this.live = false; fail(`could not prepare the engine: ${err.message}`); });
      } else if (msg.type === "result" || msg.type === "error") this.settle(msg);
    };
    worker.onerror = (e) => { e.preventDefault?.(); fail(e.message || "the worker script failed"); };
    if (early) {
      for (const event of early.messages.splice(0)) worker.onmessage(event);
      for (const event of early.errors.splice(0)) worker.onerror(event);
    } else {
      worker.postMessage({ type: "boot", urls: this.urls, snapshot: useSnapshot });
    }
  }

  crashed(reason) {
    for (const { reject, timer } of this.pending.values()) { clearTimeout(timer); reject(new Error(reason)); }
    this.pending.clear();
  }

  settle(msg) {
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    this.pending.delete(msg.id);
    clearTimeout(entry.timer);
    if (msg.type === "result") {
      const payload = restoreMatrices(JSON.parse(msg.json), msg.bytes);
      if ("error" in payload) {
        const err = new Error(payload.error);
        err.kind = payload.kind;
        entry.reject(err);
      } else entry.resolve(payload.result);
    } else {
      const err = new Error(msg.message);
      err.kind = "WorkerError";
      entry.reject(err);
    }
  }

  send(message, transfer = []) {
    if (!this.live) return Promise.reject(new Error("the live engine is not ready"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("the engine took too long to answer"));
      }, CALL_DEADLINE_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  call(name, kwargs = {}) {
    return this.send({ type: "call", name, kwargs: JSON.stringify(kwargs) });
  }

  // primed: the model input at primedSize when the page already has it (see worker_api.set_source).
  setSource(bytes, size, primed = null, primedSize = 0) {
    return this.send({ type: "source", bytes, size, primed, primedSize });
  }

  // A component's "file" option (its path as in markdown, and its bytes): calls name it
  // with `files: {option: path}` (see pe_engine.worker_api.set_file).
  setFile(path, bytes) {
    return this.send({ type: "file", path, bytes });
  }
}

// Big matrices arrive as float64 bytes beside the JSON (see pe_engine.worker_api):
// {"__matrix__": i, rows, cols} stands for the i-th matrix, stored one after another.
function restoreMatrices(payload, bytes) {
  if (!bytes || !bytes.byteLength) return payload;
  const flat = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const found = [];
  const collect = (value) => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === "object") {
      if ("__matrix__" in value) found[value.__matrix__] = value;
      else Object.values(value).forEach(collect);
    }
  };
  collect(payload);
  const start = [];
  found.reduce((offset, m, i) => { start[i] = offset; return offset + m.rows * m.cols; }, 0);
  const rebuild = (value) => {
    if (Array.isArray(value)) return value.map(rebuild);
    if (value && typeof value === "object") {
      if ("__matrix__" in value) {
        const { rows, cols } = value, base = start[value.__matrix__];
        return Array.from({ length: rows }, (_, r) => Array.from(flat.subarray(base + r * cols, base + (r + 1) * cols)));
      }
      for (const key of Object.keys(value)) value[key] = rebuild(value[key]);
    }
    return value;
  };
  return rebuild(payload);
}
