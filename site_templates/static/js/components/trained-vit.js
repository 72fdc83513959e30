// The trained digit ViT (`trained-vit`): the similarity figures, a digit drawn or picked and
// classified live by every model, and whole-test-set runs (shuffled patches, bigger grids).
// The weights and the record arrive as the component's "file" options (data.files): fetched
// here, handed to the worker once (engine.setFile), then named in every call.
import * as plots from "../plots.js";

const CANVAS = 32; // the engine's vit.from_canvas input: 32 × 32 grey, as load_digits' bitmaps
// Ink on that box: load_digits' digits hold about 310 of its 1,024 pixels (30%) whatever the
// class; the stroke width (in box pixels) is chosen between these to match.
const INK = 310;
const STROKE_MIN = 2, STROKE_MAX = 12;
const DISPLAY_STROKE = 0.075; // on the drawing canvas, as a fraction of its side
const CHUNK_SLOTS = 6000; // test images per call × patches per image: ~0.1–0.3 s in the worker

const percent = (x) => `${(100 * x).toFixed(1)}%`;

export function mount(root, data, engine) {
  const view = data.view;
  const cfg = view.config;
  const total = cfg.test_size;
  const side = cfg.image_size[0];
  const names = Object.keys(cfg.models);
  const files = Object.fromEntries(Object.entries(data.files).map(([option, f]) => [option, f.path]));
  const $ = (sel) => root.querySelector(sel);
  const form = $("[data-tv-form]");
  const canvas = $("[data-canvas]");
  const note = $("[data-canvas-note]");
  const digitStatus = $("[data-digit-status]");
  const runStatus = $("[data-run-status]");
  const progress = $("[data-progress]");
  const engineNote = $("[data-tv-engine]");
  const runButtons = [...root.querySelectorAll("[data-run]")];
  const inputPlot = root.querySelector(`#${root.id}-input`);
  const attention = Object.fromEntries(names.map((n) => [n, root.querySelector(`#${root.id}-attention_${n}`)]));
  const cards = Object.fromEntries(names.map((n) => [n, root.querySelector(`.tv-card[data-model="${n}"]`)]));

  // ---- the engine: the files fetched once it is up (after the boot's own downloads), given to it once
  const fetchFiles = () => Promise.all(Object.values(data.files).map(async (f) => {
    const response = await fetch(new URL(f.url, document.baseURI));
    if (!response.ok) throw new Error(`${f.path} answered HTTP ${response.status}`);
    return [f.path, new Uint8Array(await response.arrayBuffer())];
  }));
  let prepared = null;
  const live = () => (prepared ??= engine.ready.then(fetchFiles).then(async (list) => {
    for (const [path, bytes] of list) await engine.setFile(path, bytes);
  }).catch((err) => { prepared = null; throw err; })); // the next call tries again
  const call = (kwargs) => live().then(() => engine.call("trained-vit", { ...kwargs, files }));
  engine.onStatus(({ state }) => {
    if (state === "failed") engineNote.textContent = "The live engine could not start: showing the numbers computed when the page was built.";
  });
  const whenLive = (what) => {
    if (engine.state === "failed") return Promise.reject(new Error("the live engine could not start"));
    if (engine.state !== "ready") engineNote.textContent = `The live engine is still starting; ${what} when it is ready.`;
    return live().then(() => { engineNote.textContent = "Live: every number below can be recomputed in your browser."; });
  };

  // ---- what the models see: a test digit or the reader's drawing
  const value = (name) => form.elements[name].value;
  const state = { digit: view.digit.input.index ?? 0, strokes: null, mode: view.digit.input.mode, shuffle: 0 };
  const settings = () => ({ grid: Number(value("grid")), method: value("method") });

  // The drawing canvas: a test digit as grey blocks, or the reader's strokes.
  const ctx = canvas.getContext("2d");
  let shownPixels = view.digit.input.original;
  function paint() {
    const size = canvas.width;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    if (state.strokes) {
      ctx.strokeStyle = "#111";
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.lineWidth = DISPLAY_STROKE * size;
      for (const stroke of state.strokes) strokePath(ctx, stroke, (p) => [p[0] * size, p[1] * size]);
    } else if (shownPixels) {
      const cell = size / shownPixels.length;
      shownPixels.forEach((row, r) => row.forEach((v, c) => {
        const grey = Math.round(255 - (v / 16) * (255 - 17));
        ctx.fillStyle = `rgb(${grey},${grey},${grey})`;
        ctx.fillRect(c * cell, r * cell, Math.ceil(cell), Math.ceil(cell));
      }));
    }
    ctx.strokeStyle = "rgba(36, 87, 166, 0.18)"; // the patch grid, faint
    ctx.lineWidth = 1;
    for (let k = 1; k < side; k++) {
      const at = Math.round((k * size) / side) + 0.5;
      ctx.beginPath(); ctx.moveTo(at, 0); ctx.lineTo(at, size); ctx.moveTo(0, at); ctx.lineTo(size, at); ctx.stroke();
    }
  }

  let drawing = null; // the stroke being drawn
  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - box.left) / box.width)),
            Math.min(1, Math.max(0, (e.clientY - box.top) / box.height))];
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.pointerType === "mouse") return;
    e.preventDefault();
    canvas.setPointerCapture?.(e.pointerId);
    if (!state.strokes) state.strokes = [];
    drawing = [point(e)];
    state.strokes.push(drawing);
    paint();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    for (const ev of e.getCoalescedEvents?.() || [e]) drawing.push(point(ev));
    paint();
  });
  const endStroke = (e) => {
    if (!drawing) return;
    drawing = null;
    canvas.releasePointerCapture?.(e.pointerId);
    note.textContent = "Your drawing. It is centred and scaled to fill the box, as the digits of the data set were, before the models see it.";
    classify({ startedAt: e.timeStamp });
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);

  // The strokes, centred and scaled to fill a 32 × 32 box, as vit.from_canvas reads them. The
  // data's digits all carry about the same ink whatever their shape (thin digits were drawn
  // thicker), so the stroke width is chosen to give that much ink.
  const box = document.createElement("canvas");
  box.width = box.height = CANVAS;
  const b = box.getContext("2d", { willReadFrequently: true });
  function rasterizeAt(width) {
    const pts = state.strokes.flat();
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const room = CANVAS - width - 0.5;
    const scale = Math.min(room / Math.max(y1 - y0, 1e-6), room / Math.max(x1 - x0, 1e-6));
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    b.clearRect(0, 0, CANVAS, CANVAS);
    b.strokeStyle = "#000";
    b.lineCap = b.lineJoin = "round";
    b.lineWidth = width;
    for (const stroke of state.strokes) {
      strokePath(b, stroke, (p) => [CANVAS / 2 + (p[0] - cx) * scale, CANVAS / 2 + (p[1] - cy) * scale]);
    }
    const rgba = b.getImageData(0, 0, CANVAS, CANVAS).data;
    const grey = new Array(CANVAS * CANVAS);
    let ink = 0;
    for (let i = 0; i < grey.length; i++) { grey[i] = rgba[4 * i + 3]; ink += grey[i] / 255; } // ink = alpha
    return { grey, ink };
  }
  function rasterize() {
    let lo = STROKE_MIN, hi = STROKE_MAX, best = rasterizeAt(lo);
    if (best.ink >= INK) return best.grey;
    for (let i = 0; i < 7; i++) { // bisect the width: ink grows with it
      const mid = (lo + hi) / 2, r = rasterizeAt(mid);
      if (Math.abs(r.ink - INK) < Math.abs(best.ink - INK)) best = r;
      if (r.ink < INK) lo = mid; else hi = mid;
    }
    return best.grey;
  }

  // ---- classification: the latest request wins; one in flight at a time
  let inflight = false, queued = null, drawn = 0;
  async function classify(extra = {}) {
    const request = { part: "digit", input: state.mode, shuffle_seed: state.shuffle, ...settings(),
                      ...(state.strokes ? { drawing: rasterize() } : { digit: state.digit }), ...extra };
    if (inflight) { queued = request; return; }
    inflight = true;
    try {
      await whenLive("your digit will be classified");
      let next = queued ?? request; // a newer request made while the engine was starting
      while (next) {
        queued = null;
        const { startedAt, ...kwargs } = next;
        digitStatus.textContent = "Classifying…";
        const result = await call(kwargs);
        if (!queued) await showDigit(result.digit, startedAt);
        next = queued;
      }
    } catch (err) {
      digitStatus.textContent = `Could not classify: ${err.message}. The previous answers stay.`;
    } finally {
      inflight = false;
    }
  }

  function showDigit(d, startedAt) {
    const input = d.input;
    if (!input.drawn && !state.strokes) {
      shownPixels = input.original;
      paint();
    }
    const what = input.drawn ? "your drawing" : `test digit ${input.index} (labelled ${input.label})`;
    const how = { plain: "", shuffled: `, its patches shuffled (shuffle ${input.shuffle_seed})`,
                  resized: `, upsampled to ${input.size}×${input.size} (learned tables resampled by ${input.method})` }[input.mode];
    for (const name of names) {
      const r = d.results[name];
      const card = cards[name];
      card.querySelector("[data-predicted]").textContent = String(r.prediction);
      card.querySelector("[data-confidence]").textContent = `(${percent(Math.max(...r.probs))} probability)`;
      for (const li of card.querySelectorAll("[data-probs] li")) {
        const k = Number(li.dataset.class);
        li.querySelector(".tv-bar").style.setProperty("--p", r.probs[k].toFixed(4));
        li.querySelector(".tv-v").textContent = percent(r.probs[k]);
        li.toggleAttribute("data-top", k === r.prediction);
        li.toggleAttribute("data-true", input.label !== null && k === input.label);
      }
      const alt = card.querySelector("[data-alt]");
      alt.hidden = !r.resampled;
      if (r.resampled) alt.textContent = `With its table resampled by ${input.method} instead of recomputed: ${r.resampled.prediction} (${percent(Math.max(...r.resampled.probs))}).`;
    }
    drawn += 1;
    digitStatus.textContent = `Every model classified ${what}${how}, live in your browser.`;
    // Live answers are drawn at once (not when near the screen): the reader is looking at them.
    plots.eager(inputPlot, ...Object.values(attention));
    const mine = drawn;
    const done = Promise.all([plots.draw(inputPlot, input.figure, "pyodide"),
                              ...names.map((n) => plots.draw(attention[n], d.results[n].figure, "pyodide"))])
      .then(() => { if (mine === drawn) root.dataset.answered = String(mine); }); // every figure shows this answer
    if (startedAt !== undefined) {
      // pointer up -> every model's answer on screen (the figures follow, one per task)
      root.dataset.classifyMs = String(Math.round(performance.now() - startedAt));
    }
    return done;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const wanted = Number(value("digit"));
    if (!Number.isInteger(wanted) || wanted < 0 || wanted >= total) {
      digitStatus.textContent = `Test digits are numbered 0 to ${total - 1}.`;
      return;
    }
    useDigit(wanted);
  });
  function useDigit(k) {
    state.digit = k;
    state.strokes = null;
    shownPixels = null;
    form.elements.digit.value = String(k);
    note.textContent = `Showing test digit ${k}. Draw over it with a mouse, a finger or a pen to write your own.`;
    paint();
    classify();
  }
  $("[data-next-digit]").addEventListener("click", () => useDigit((state.digit + 1) % total));
  $("[data-clear]").addEventListener("click", () => {
    state.strokes = [];
    shownPixels = null;
    paint();
    note.textContent = "Draw a digit in the box, with a mouse, a finger or a pen.";
  });
  const reshuffle = $("[data-reshuffle]");
  reshuffle.hidden = state.mode !== "shuffled";
  reshuffle.addEventListener("click", () => { state.shuffle += 1; classify(); });
  form.addEventListener("change", (e) => {
    if (e.target.name === "input") {
      state.mode = e.target.value;
      reshuffle.hidden = state.mode !== "shuffled";
    } else if (e.target.name === "grid" || e.target.name === "method") {
      showTable();
      if (state.mode !== "resized") return;
    } else return;
    if (state.strokes && !state.strokes.length) return;
    classify();
  });

  // ---- the whole test set
  // key -> { correct, source }: the record's numbers first, then whatever ran live.
  const results = new Map();
  const acc = view.accuracy;
  let shownSeed = acc.shuffle_seed, nextSeed = acc.shuffle_seed;
  for (const [name, a] of Object.entries(acc.models)) {
    results.set(`plain ${name}`, { correct: a.plain, source: "record" });
    results.set(`shuffled ${name} ${acc.shuffle_seed}`, { correct: a.shuffled, source: "record" });
    for (const [grid, variants] of Object.entries(a.resized)) {
      for (const [variant, correct] of Object.entries(variants)) {
        results.set(`resized ${name} ${grid} ${variant}`, { correct, source: "record" });
      }
    }
  }
  function showTable() {
    const { grid } = settings();
    for (const node of root.querySelectorAll("[data-grid-label]")) node.textContent = `${grid}×${grid}`;
    root.querySelector("[data-shuffle-label]").textContent = `(shuffle ${shownSeed})`;
    for (const cell of root.querySelectorAll("[data-cell]")) {
      const [name, test, variant] = cell.dataset.cell.split(" ");
      const key = test === "plain" ? `plain ${name}` : test === "shuffled" ? `shuffled ${name} ${shownSeed}`
        : `resized ${name} ${grid} ${variant}`;
      const r = results.get(key);
      cell.textContent = r ? percent(r.correct / total) : "–";
      cell.dataset.source = r ? r.source : "none";
      if (r) { cell.dataset.correct = String(r.correct); cell.title = `${r.correct} of ${total} correct`; }
      else { delete cell.dataset.correct; cell.removeAttribute("title"); }
    }
  }

  const label = (job) => `${cfg.models[job.model]}${{ plain: "", shuffled: `, shuffle ${job.shuffle_seed}`,
    resized: `, ${job.grid}×${job.grid}${job.variant === "unchanged" ? "" : `, ${job.variant}`}` }[job.test]}`;
  async function run(jobs, what) {
    for (const b of runButtons) b.disabled = true;
    progress.hidden = false;
    progress.max = jobs.length * total;
    progress.value = 0;
    const t0 = performance.now();
    let done = 0;
    try {
      await whenLive(`${what} will run`);
      for (const job of jobs) {
        const { key, variant, ...kwargs } = job;
        const slots = job.test === "resized" ? job.grid * job.grid : side * side;
        const step = Math.max(10, Math.round(CHUNK_SLOTS / slots));
        let correct = 0;
        for (let start = 0; start < total; start += step) {
          runStatus.textContent = `Computing ${label(job)}: ${done} of ${jobs.length * total} test runs…`;
          const answer = await call({ part: "accuracy", ...kwargs, start, count: Math.min(step, total - start) });
          correct += answer.accuracy.correct;
          done += answer.accuracy.count;
          progress.value = done;
        }
        results.set(key, { correct, source: "pyodide" });
        if (job.test === "shuffled") shownSeed = job.shuffle_seed;
        showTable();
      }
      runStatus.textContent = `${what[0].toUpperCase()}${what.slice(1)}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `${jobs.length * total} test images classified in your browser. Marked cells are the new numbers.`;
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1);
    } catch (err) {
      runStatus.textContent = `Could not finish: ${err.message}. The numbers shown stay.`;
    } finally {
      progress.hidden = true;
      for (const b of runButtons) b.disabled = false;
    }
  }
  function jobsFor(test) {
    const { grid, method } = settings();
    if (test === "plain") return names.map((model) => ({ key: `plain ${model}`, model, test }));
    if (test === "shuffled") {
      const seed = nextSeed++;
      return names.map((model) => ({ key: `shuffled ${model} ${seed}`, model, test, shuffle_seed: seed }));
    }
    const jobs = [];
    const add = (model, variant, recompute = true) => {
      const key = `resized ${model} ${grid} ${variant}`;
      jobs.push({ key, model, test, grid, method, recompute, variant });
    };
    add("learned", method);
    add("none", "unchanged");
    add("sincos", "recomputed", true);
    add("sincos", method, false);
    add("learned_shift", method);
    return jobs.filter((j) => !(["unchanged", "recomputed"].includes(j.variant) && results.get(j.key)?.source === "pyodide"));
  }
  for (const button of runButtons) {
    button.addEventListener("click", () => {
      const test = button.dataset.run;
      const { grid, method } = settings();
      const what = { plain: "the test set as it is", shuffled: `the test set with shuffled patches (shuffle ${nextSeed})`,
                     resized: `the test set at ${grid}×${grid} (${method})` }[test];
      run(jobsFor(test), what);
    });
  }

  // ---- once the component comes near the screen and the engine is up: the similarity
  // figures recomputed live (the build shows them as pictures), and the digit, which loads the
  // models in the worker, so a first drawing is answered at once.
  const similarity = Object.keys(view.similarity.tables).map((key) => [key, root.querySelector(`#${root.id}-similarity_${key}`)]);
  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting)) return;
    observer.disconnect();
    engine.ready.then(() => call({ part: "similarity" })).then((answer) => {
      for (const [key, node] of similarity) plots.draw(node, answer.similarity.tables[key].figure, "pyodide");
      if (!inflight && !drawn) classify();
    }).catch((err) => console.warn("pe-trained-vit:", err.message));
  }, { rootMargin: "100% 0px" });
  observer.observe(root);

  paint();
  showTable();
  return Promise.all([plots.draw(inputPlot, view.digit.input.figure, "build"),
                      ...names.map((n) => plots.draw(attention[n], view.digit.results[n].figure, "build"))]);
}

function strokePath(ctx, stroke, at) {
  ctx.beginPath();
  const [x0, y0] = at(stroke[0]);
  ctx.moveTo(x0, y0);
  if (stroke.length === 1) ctx.lineTo(x0 + 0.01, y0);
  for (const p of stroke.slice(1)) ctx.lineTo(...at(p));
  ctx.stroke();
}
