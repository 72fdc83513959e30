// The ViT stepper: wires the five step modules, the strategy choice, the patch grid and
// the figures to the shared state. Numbers come from the build's pre-computed view until
// the engine is ready, then from the worker.
import * as store from "./state.js";
import * as plots from "./plots.js";
import * as fragment from "./fragment.js";
import * as input from "./steps/input.js";
import * as patch from "./steps/patch.js";
import * as project from "./steps/project.js";
import * as flatten from "./steps/flatten.js";
import * as addpos from "./steps/addpos.js";
import { mountParameters } from "./parameters.js";
import { mountUpload } from "./upload.js";

const STEPS = fragment.STEPS;
const configKey = (s) => `${s.image_size}/${s.patch}/${s.dim}/${s.seed}/${s.imageVersion}`;

export function mountStepper(root, data, engine) {
  const q = (sel) => root.querySelector(sel);
  const panels = Object.fromEntries(STEPS.map((s) => [s, q(`[data-panel="${s}"]`)]));
  const tabs = [...root.querySelectorAll('[role="tab"]')];
  const grid = q("[data-patch-grid]");
  const frame = q("[data-image-frame]");
  const heatmap = q(`#${root.id}-heatmap`), similarity = q(`#${root.id}-similarity`), tiles = q(`#${root.id}-tiles`);
  plots.eager(heatmap, similarity, tiles); // drawn at once, not when scrolled to (plots.js)

  // Views by configuration; each strategy part remembers where its numbers came from.
  const cache = new Map();
  const o = data.options;
  const defaults = { step: o.step, strategy: o.strategy, selected: data.view.config.selected,
                     image_size: o.image_size, patch: o.patch, dim: o.dim };
  const initial = fragment.parse(location.hash, defaults);
  store.init({ ...initial, seed: o.seed, imageVersion: 0 });
  const buildEntry = { ...data.view, source: "build" };
  for (const part of Object.values(buildEntry.strategies)) part.source = "build";
  cache.set(configKey({ ...defaults, seed: o.seed, imageVersion: 0 }), buildEntry);
  let shown = null; // the entry on screen: the last valid view
  let seq = 0;

  // ---- fetching: from the cache, else from the worker
  const hasPatch = (entry, part, k) => entry.tokens[k] && entry.x_preview[k] && part.z0[k] && part.similarity[k];

  // One request per view at a time: a click waits for the same view's prefetch instead of repeating it.
  const inflight = new Map();
  async function viewFor(s, options = {}) {
    const flightKey = `${configKey(s)}/${s.strategy}/${s.selected}`;
    while (inflight.has(flightKey)) await inflight.get(flightKey).catch(() => {});
    const request = fetchView(s, options);
    inflight.set(flightKey, request);
    try {
      return await request;
    } finally {
      inflight.delete(flightKey);
    }
  }

  // With the engine live, compute the other strategies for this view in the background,
  // so that switching strategy only has to draw. A newer render stops it.
  async function prefetch(s) {
    const mine = seq;
    for (const strategy of fragment.STRATEGIES) {
      if (seq !== mine || engine.state !== "ready") return;
      if (strategy === s.strategy) continue;
      try {
        await viewFor({ ...s, strategy });
      } catch {
        return;
      }
    }
  }

  async function fetchView(s, { heatmapNeeded = true } = {}) {
    const key = configKey(s);
    let entry = cache.get(key);
    const part = entry?.strategies[s.strategy];
    const live = engine.state === "ready";
    const fresh = part && (!live || part.source === "pyodide") && hasPatch(entry, part, s.selected)
      && (!heatmapNeeded || part.figures.heatmap);
    if (fresh) return entry;
    if (!live) {
      if (entry && part && hasPatch(entry, part, s.selected)) return entry;
      throw new Error("the live engine is still starting");
    }
    const result = await engine.call("stepper", {
      image_size: s.image_size, patch: s.patch, dim: s.dim, seed: s.seed,
      strategy: s.strategy, selected: s.selected, heatmap: heatmapNeeded || !part?.figures.heatmap,
    });
    if (!entry || entry.source === "build" && live) {
      entry = { ...result, strategies: { ...(entry?.source === "pyodide" ? entry.strategies : {}) }, source: "pyodide" };
      cache.set(key, entry);
    } else {
      Object.assign(entry.tokens, result.tokens);
      Object.assign(entry.x_preview, result.x_preview);
    }
    const fresh_part = { ...result.strategies[s.strategy], source: "pyodide" };
    const old = entry.strategies[s.strategy];
    if (old && old.source === "pyodide") {
      Object.assign(old.z0, fresh_part.z0);
      Object.assign(old.similarity, fresh_part.similarity);
      old.figures.similarity = fresh_part.figures.similarity;
      if (fresh_part.figures.heatmap) old.figures.heatmap = fresh_part.figures.heatmap;
    } else entry.strategies[s.strategy] = fresh_part;
    if (cache.size > 6) cache.delete(cache.keys().next().value);
    return entry;
  }

  // ---- drawing
  function showStep(step) {
    for (const tab of tabs) {
      const on = tab.dataset.step === step;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== step;
    frame.dataset.showGrid = String(step !== "input");
    q("[data-step-prev]").disabled = step === STEPS[0];
    q("[data-step-next]").disabled = step === STEPS.at(-1);
  }

  function showReadout(k, cols) {
    q("[data-readout-k]").textContent = k;
    q("[data-readout-r]").textContent = Math.floor(k / cols);
    q("[data-readout-c]").textContent = k % cols;
  }

  // Changes whose render was overtaken by a newer one before it drew: the newer one draws them.
  let undrawn = new Set();
  async function render(s, changedNow) {
    const mine = ++seq;
    const changed = new Set([...undrawn, ...changedNow]);
    undrawn = changed;
    const needsData = !shown || ["strategy", "image_size", "patch", "dim", "imageVersion", "selected", "seed"].some((k) => changed.has(k));
    if (changed.has("step") || !shown) showStep(s.step);
    if (!needsData) { undrawn = new Set(); return; }
    const configChanged = !shown || ["image_size", "patch", "dim", "imageVersion", "seed"].some((k) => changed.has(k));
    if (!configChanged && changed.has("selected")) {
      // Feedback at once; the numbers follow when they are at hand.
      patch.markSelected(grid, s.selected);
      showReadout(s.selected, shown.grid.cols);
    }
    const strategyChanged = configChanged || changed.has("strategy");
    if (strategyChanged) plots.busy(heatmap);
    let entry;
    try {
      entry = await viewFor(s, { heatmapNeeded: strategyChanged || !shown });
    } catch (err) {
      plots.busy(heatmap, false);
      if (mine === seq) console.warn("pe-stepper: the view stays as it was:", err.message);
      if (!shown) throw err;
      return;
    }
    if (mine !== seq) return; // a newer request owns the screen
    const part = entry.strategies[s.strategy];
    const source = part.source;
    const k = s.selected;
    if (configChanged) {
      showInput(s).catch((err) => console.warn("pe-stepper:", err.message));
      patch.buildGrid(grid, entry.grid.rows, entry.grid.cols, k);
      input.render(panels.input, entry);
      patch.render(panels.patch, entry);
    }
    patch.markSelected(grid, k);
    showReadout(k, entry.grid.cols);
    project.render(panels.project, entry, k);
    flatten.render(panels.flatten, entry, k);
    addpos.render(panels.addpos, entry, part, k);
    const draws = [];
    const row = { x0: -0.5, x1: entry.config.dim - 0.5, y0: k + 0.5, y1: k + 1.5 };
    if (strategyChanged || heatmap.dataset.source !== source) {
      draws.push(plots.draw(heatmap, part.figures.heatmap, source).then(() => plots.moveSelection(heatmap, row)));
      if (part.figures.tiles) draws.push(plots.draw(tiles, part.figures.tiles, source));
      tiles.closest("details").hidden = !part.figures.tiles;
    } else {
      draws.push(plots.moveSelection(heatmap, row));
    }
    draws.push(plots.draw(similarity, withMap(part, k, entry.grid.cols), source));
    shown = entry;
    undrawn = new Set();
    await Promise.all(draws);
    if (source === "pyodide" && mine === seq) prefetch(s);
  }

  // The model input as the engine resized it (the build's PNG for the default view).
  const image = q("[data-input-image]");
  const buildImage = image.src;
  let imageUrl = null;
  async function showInput(s) {
    const isDefault = s.imageVersion === 0 && s.image_size === defaults.image_size;
    if (isDefault) { image.src = buildImage; return; }
    const pixels = await engine.call("model_input", { image_size: s.image_size });
    const size = s.image_size, rgba = new Uint8ClampedArray(size * size * 4);
    for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
      rgba[i] = pixels[j]; rgba[i + 1] = pixels[j + 1]; rgba[i + 2] = pixels[j + 2]; rgba[i + 3] = 255;
    }
    const canvas = new OffscreenCanvas(size, size);
    canvas.getContext("2d").putImageData(new ImageData(rgba, size, size), 0, 0);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = URL.createObjectURL(blob);
    image.src = imageUrl;
    image.alt = `The model input, ${size}×${size} pixels`;
  }

  // The similarity figure for another patch: same figure, that patch's map and outline.
  function withMap(part, k, cols) {
    const fig = structuredClone(part.figures.similarity);
    fig.data[0].z = part.similarity[k];
    fig.layout.title.text = `Position similarity to patch ${k}`;
    const shape = fig.layout.shapes.find((sh) => sh.name === "selection");
    if (shape) Object.assign(shape, { x0: (k % cols) - 0.5, x1: (k % cols) + 0.5,
                                      y0: Math.floor(k / cols) - 0.5, y1: Math.floor(k / cols) + 0.5 });
    return fig;
  }

  // ---- input: tabs, buttons, keys, patches, strategies
  const go = (delta) => {
    const i = STEPS.indexOf(store.get().step);
    const next = STEPS[Math.min(STEPS.length - 1, Math.max(0, i + delta))];
    store.set({ step: next });
    return next;
  };
  q("[data-step-prev]").addEventListener("click", () => go(-1));
  q("[data-step-next]").addEventListener("click", () => go(1));
  for (const tab of tabs) {
    tab.addEventListener("click", () => store.set({ step: tab.dataset.step }));
    tab.addEventListener("keydown", (e) => {
      const i = STEPS.indexOf(tab.dataset.step);
      const moves = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: STEPS.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const j = (moves[e.key] + STEPS.length) % STEPS.length;
      store.set({ step: STEPS[j] });
      tabs[j].focus();
    });
  }
  grid.addEventListener("click", (e) => {
    const button = e.target.closest(".patch");
    if (button) store.set({ selected: Number(button.dataset.patch) });
  });
  grid.addEventListener("keydown", (e) => {
    const button = e.target.closest(".patch");
    if (!button) return;
    const cols = Number(getComputedStyle(grid).getPropertyValue("--cols")) || shown.grid.cols;
    const n = grid.children.length, k = Number(button.dataset.patch);
    const moves = { ArrowRight: k + 1, ArrowLeft: k - 1, ArrowDown: k + cols, ArrowUp: k - cols, Home: 0, End: n - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const j = moves[e.key];
    if (j < 0 || j >= n) return;
    store.set({ selected: j });
    grid.children[j].focus();
  });
  const radios = [...root.querySelectorAll('.strategies input[type="radio"]')];
  const variant = q("[data-variant]");
  const pickStrategy = () => {
    const family = radios.find((r) => r.checked)?.value || "learned";
    store.set({ strategy: family === "2d" ? variant.value : family });
  };
  for (const radio of radios) radio.addEventListener("change", pickStrategy);
  variant.addEventListener("change", () => {
    const two = radios.find((r) => r.value === "2d");
    two.checked = true;
    pickStrategy();
  });
  const syncStrategyControls = (strategy) => {
    const family = strategy === "sincos2d" || strategy === "learned2d" ? "2d" : strategy;
    for (const r of radios) r.checked = r.value === family;
    if (family === "2d") variant.value = strategy;
    for (const note of root.querySelectorAll("[data-note]")) note.classList.toggle("current", note.dataset.note === family);
  };

  store.subscribe((s, changed) => {
    if (changed.has("strategy")) syncStrategyControls(s.strategy);
    history.replaceState(null, "", fragment.serialize(s));
    render(s, changed).catch((err) => console.warn("pe-stepper:", err.message));
  });
  addEventListener("hashchange", () => {
    const s = store.get();
    store.set(fragment.parse(location.hash, { ...defaults, image_size: s.image_size, patch: s.patch, dim: s.dim }));
  });

  syncStrategyControls(store.get().strategy);
  const params = mountParameters(root, data, engine, store);
  mountUpload(root, data, engine, store);

  // When the worker is live, recompute what is on screen with it.
  engine.ready.then(() => {
    params.enable();
    render(store.get(), new Set(["strategy"])).catch((err) => console.warn("pe-stepper:", err.message));
  }, () => {});

  return render(store.get(), new Set(["step"])).catch((err) => {
    // The fragment asked for a view only the engine can compute: show the default now.
    console.warn("pe-stepper:", err.message);
    store.set({ image_size: defaults.image_size, patch: defaults.patch, dim: defaults.dim });
    engine.ready.then(() => store.set({ ...initial }), () => {});
  });
}
