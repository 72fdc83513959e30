// Puts a stepper view on screen: the step shown, the five step panels, the patch grid, the
// heatmaps. Renders may overlap (the worker answers later than the reader clicks): the newest
// owns the screen, and what an overtaken render had to show is passed on to the next one.
import * as plots from "../plots.js";
import * as input from "../steps/input.js";
import * as patch from "../steps/patch.js";
import * as project from "../steps/project.js";
import * as flatten from "../steps/flatten.js";
import * as addpos from "../steps/addpos.js";

const DATA_KEYS = ["strategy", "image_size", "patch", "dim", "imageVersion", "selected", "seed"];
const CONFIG_KEYS = ["image_size", "patch", "dim", "imageVersion", "seed"];

export function createDrawing(root, { steps, cache, engine, isDefaultImage, onView }) {
  const q = (sel) => root.querySelector(sel);
  const panels = Object.fromEntries(steps.map((s) => [s, q(`[data-panel="${s}"]`)]));
  const tabs = [...root.querySelectorAll('[role="tab"]')];
  const grid = q("[data-patch-grid]");
  const frame = q("[data-image-frame]");
  const heatmap = q(`#${root.id}-heatmap`), similarity = q(`#${root.id}-similarity`), tiles = q(`#${root.id}-tiles`);
  plots.eager(heatmap, similarity, tiles); // drawn at once, not when scrolled to (plots.js)
  const image = q("[data-input-image]");
  const buildImage = image.src, buildAlt = image.alt;
  // The build's picture is a <picture> (WebP, PNG fallback): its <source> must step aside for a blob.
  const webp = image.parentElement?.tagName === "PICTURE" ? image.parentElement.querySelector("source") : null;
  const buildSrcset = webp?.getAttribute("srcset");
  let imageUrl = null;
  let shown = null; // the entry on screen: the last valid view
  let seq = 0;
  let undrawn = new Set();

  function showStep(step) {
    for (const tab of tabs) {
      const on = tab.dataset.step === step;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== step;
    frame.dataset.showGrid = String(step !== "input");
    q("[data-step-prev]").disabled = step === steps[0];
    q("[data-step-next]").disabled = step === steps.at(-1);
  }

  function showReadout(k, cols) {
    q("[data-readout-k]").textContent = k;
    q("[data-readout-r]").textContent = Math.floor(k / cols);
    q("[data-readout-c]").textContent = k % cols;
  }

  // The model input as the engine resized it (the build's PNG for the default view).
  async function showInput(s) {
    if (isDefaultImage(s)) { if (webp) webp.srcset = buildSrcset; image.src = buildImage; image.alt = buildAlt; return; }
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
    webp?.removeAttribute("srcset");
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

  async function render(s, changedNow) {
    const mine = ++seq;
    const changed = new Set([...undrawn, ...changedNow]);
    undrawn = changed;
    const needsData = !shown || DATA_KEYS.some((k) => changed.has(k));
    if (changed.has("step") || !shown) showStep(s.step);
    if (!needsData) { undrawn = new Set(); return; }
    const configChanged = !shown || CONFIG_KEYS.some((k) => changed.has(k));
    if (!configChanged && changed.has("selected")) {
      // Feedback at once; the numbers follow when they are at hand.
      patch.markSelected(grid, s.selected);
      showReadout(s.selected, shown.grid.cols);
    }
    const strategyChanged = configChanged || changed.has("strategy");
    if (strategyChanged) plots.busy(heatmap);
    let entry;
    try {
      entry = await cache.get(s, { heatmapNeeded: strategyChanged || !shown });
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
    onView?.(entry);
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
    if (source === "pyodide" && mine === seq) cache.prefetch(s, () => mine === seq);
  }

  return { render, showStep, cols: () => shown?.grid.cols };
}
