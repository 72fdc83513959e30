// Puts a stepper view on screen: the step shown, the five step panels, the patch grid, the
// heatmaps. Renders may overlap (the worker answers later than the reader clicks): the newest
// owns the screen, and what an overtaken render had to show is passed on to the next one.
import * as plots from "../plots.js";
import * as input from "../steps/input.js";
import * as patch from "../steps/patch.js";
import * as project from "../steps/project.js";
import * as flatten from "../steps/flatten.js";
import * as addpos from "../steps/addpos.js";
import { HIGHLIGHT, showRange, withMarks } from "../marks.js";
import { box, cell_outline, row_outline } from "../shapes.js";

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
  let onScreen = {}; // node id -> { figure, source } last drawn, for the hover marks
  let hovered = null;
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
    frame.dataset.step = step;
    q("[data-step-prev]").disabled = step === steps[0];
    q("[data-step-next]").disabled = step === steps.at(-1);
  }

  function showReadout(k, cols) {
    q("[data-readout-k]").textContent = k;
    q("[data-readout-r]").textContent = Math.floor(k / cols);
    q("[data-readout-c]").textContent = k % cols;
  }

  // The model input as the engine resized it (the build's PNG for the default view).
  let inputSeq = 0; // the newest input asked for: a slower, older one never replaces it
  async function showInput(s) {
    const mine = ++inputSeq;
    if (isDefaultImage(s)) {
      if (webp) webp.srcset = buildSrcset;
      image.src = buildImage; image.alt = buildAlt;
      if (imageUrl) { URL.revokeObjectURL(imageUrl); imageUrl = null; }
      return;
    }
    const pixels = await engine.call("model_input", { image_size: s.image_size });
    if (mine !== inputSeq) return;
    const size = s.image_size, rgba = new Uint8ClampedArray(size * size * 4);
    for (let i = 0, j = 0; j < pixels.length; i += 4, j += 3) {
      rgba[i] = pixels[j]; rgba[i + 1] = pixels[j + 1]; rgba[i + 2] = pixels[j + 2]; rgba[i + 3] = 255;
    }
    const canvas = new OffscreenCanvas(size, size);
    canvas.getContext("2d").putImageData(new ImageData(rgba, size, size), 0, 0);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    if (mine !== inputSeq) return;
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = URL.createObjectURL(blob);
    webp?.removeAttribute("srcset");
    image.src = imageUrl;
    image.alt = `The model input, ${size}×${size} pixels`;
  }

  // The figure on screen with the hovered position outlined (patch grid, heatmap row,
  // similarity cell, small-multiple tile: the same position in every view).
  function marked(name, entry = shown) {
    const { figure } = onScreen[name];
    if (hovered === null || !entry || hovered >= entry.grid.rows * entry.grid.cols) return withMarks(figure, HIGHLIGHT, []);
    const { rows, cols } = entry.grid;
    const r = Math.floor(hovered / cols), c = hovered % cols;
    const shape = name === "heatmap" ? row_outline(hovered + 1, entry.config.dim, HIGHLIGHT)
      : name === "similarity" ? cell_outline(r, c, HIGHLIGHT)
      : box(c * (cols + 1) - 0.5, c * (cols + 1) + cols - 0.5, r * (rows + 1) - 0.5, r * (rows + 1) + rows - 0.5, HIGHLIGHT);
    return withMarks(figure, HIGHLIGHT, [shape]);
  }

  // `from` names the view that set the highlight: a figure's late "unhover" clears only its own.
  let hoveredFrom = null;
  function hover(k, from = "page") {
    if (k === null && from !== hoveredFrom && from !== "page") return;
    hoveredFrom = k === null ? null : from;
    if (k === hovered) return;
    hovered = k;
    for (const el of root.querySelectorAll(".patch.hovered, .eblock.hovered, .seq-item.hovered")) el.classList.remove("hovered");
    if (k !== null) {
      for (const el of root.querySelectorAll(`.patch[data-patch="${k}"], .eblock[data-k="${k}"], .seq-item[data-k="${k}"]`)) {
        el.classList.add("hovered");
      }
    }
    const nodes = { heatmap, similarity, tiles };
    for (const [name, { source }] of Object.entries(onScreen)) {
      if (name === "tiles" && tiles.closest("details").hidden) continue;
      plots.draw(nodes[name], marked(name), source).catch(() => {});
    }
  }

  // The similarity figure for another patch: same figure, that patch's map and outline.
  function withMap(part, k, cols) {
    const fig = structuredClone(part.figures.similarity);
    fig.data[0].z = part.similarity[k];
    const range = part.similarity_range?.[k];
    if (range) [fig.data[0].zmin, fig.data[0].zmax, fig.layout.meta.range] = [range[0], range[1], range];
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
      onScreen.heatmap = { figure: part.figures.heatmap, source };
      draws.push(plots.draw(heatmap, marked("heatmap", entry), source).then(() => plots.moveSelection(heatmap, row)));
      if (part.figures.tiles) {
        onScreen.tiles = { figure: part.figures.tiles, source };
        draws.push(plots.draw(tiles, marked("tiles", entry), source));
        showRange(tiles, part.figures.tiles);
      }
      tiles.closest("details").hidden = !part.figures.tiles;
    } else {
      draws.push(plots.moveSelection(heatmap, row));
    }
    const simFigure = withMap(part, k, entry.grid.cols);
    onScreen.similarity = { figure: simFigure, source };
    draws.push(plots.draw(similarity, marked("similarity", entry), source));
    showRange(similarity, simFigure);
    shown = entry;
    undrawn = new Set();
    await Promise.all(draws);
    if (source === "pyodide" && mine === seq) cache.prefetch(s, () => mine === seq);
  }

  return { render, showStep, hover, cols: () => shown?.grid.cols, nodes: { heatmap, similarity, tiles } };
}
