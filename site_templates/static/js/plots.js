// Drawing figures. The figure dicts come whole from pe_engine.figures (build or worker); this
// module only draws them, styled for the page's theme, and records where their numbers came
// from (data-source).
//
// Two renderers read the same figure dict. Plotly (1.5 MB; evaluating it is one main-thread
// task of ~0.5-0.7 s, and each first draw another 0.1-0.4 s) is not on the way to the first
// live view: until it is loaded, heatmaps and bar charts are drawn on a <canvas> straight from
// the figure dict (cells, colour scale and bar, title, axes, the selection outline), which
// takes a few milliseconds. Plotly is loaded
//   - once the live engine has drawn a figure and the reader has left the page alone for a
//     few seconds, in idle time (its long task then cannot land in a scroll or a click);
//   - at once when the reader points at or focuses a component (main.js), or after an engine
//     failure (main.js);
// and then takes over each figure in a task of its own, visible figures first. Hover labels
// are the only thing that wait for it: a click during the hand-over is drawn from the newest
// figure asked for, by whichever renderer owns the node at that moment.
//
// Style: figure text, gridlines, paper, hover labels and colour bars take the page's CSS
// custom properties (site.css :root, light and dark) at draw time, for both renderers; the
// figure dicts stay theme-neutral. A change of the system theme restyles every drawn figure.
// The selection outline is two rings (dark outside, the page's highlight inside, 10:1 apart),
// so one of them has at least 3:1 against any cell colour (WCAG technique C40).
//
// No Plotly chrome: no modebar, no links to another host, nothing focusable; each figure has
// one control of its own, "PNG", which makes the picture locally (Plotly.toImage or the canvas).

const CONFIG = {
  responsive: true, displayModeBar: false, displaylogo: false, showLink: false, showSendToCloud: false,
  showEditInChartStudio: false, showTips: false, scrollZoom: false,
};
const QUIET_MS = 3000; // reader inactivity before Plotly loads by itself
const RING = { outer: "#000000", width: 5, inner: 2 }; // selection outline: dark ring, highlight ring

let plotlySrc = null;
let plotlyReady = null;
let scales = {}; // plotly.js's named colour scales, from the build (build.py FALLBACK_SCALES)
const failedListeners = [];

export function configure({ plotly, scales: named }) {
  plotlySrc = plotly;
  scales = named || {};
}

export function onPlotlyFailed(fn) {
  failedListeners.push(fn);
}

// Plotly is a classic script: injected asynchronously, so it never blocks the text.
export function loadPlotly() {
  if (!plotlyReady && plotlySrc) {
    plotlyReady = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = plotlySrc;
      script.async = true;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("Plotly did not load")));
      script.onerror = () => reject(new Error("Plotly could not be downloaded"));
      document.head.append(script);
    });
    plotlyReady.then(handOver, (err) => failedListeners.forEach((fn) => fn(err)));
  }
  return plotlyReady || Promise.reject(new Error("Plotly is not configured"));
}

// Idle time: after `QUIET_MS` without a scroll, key, wheel or touch, at the next idle period.
let idleArmed = false;
export function loadPlotlyWhenIdle() {
  if (idleArmed || plotlyReady) return;
  idleArmed = true;
  let last = performance.now();
  const touched = () => { last = performance.now(); };
  const events = ["pointerdown", "keydown", "wheel", "scroll", "touchstart"];
  for (const type of events) addEventListener(type, touched, { passive: true, capture: true });
  const idle = globalThis.requestIdleCallback || ((fn) => setTimeout(fn, 50));
  const check = () => {
    const wait = QUIET_MS - (performance.now() - last);
    if (!plotlyReady && wait > 0) return setTimeout(check, wait);
    for (const type of events) removeEventListener(type, touched, { capture: true });
    if (!plotlyReady) idle(() => loadPlotly().catch(() => {}), { timeout: 2000 });
  };
  setTimeout(check, QUIET_MS);
}

// ------------------------------------------------------------------ scheduling
// Every figure is drawn in a task of its own (one queue, yielding to the browser before each
// draw); a figure not marked eager waits until it comes within a screen's height of the
// viewport (one in a closed <details> waits until that is opened). A draw always takes the
// newest figure asked for that node, so nothing asked for meanwhile is lost.
const eagerNodes = new WeakSet();
const latest = new WeakMap(); // node -> { figure, source }: the newest asked for
const owner = new WeakMap(); // node -> "canvas" | "plotly" (what drew it last)
const drawn = new Set(); // nodes on screen, for the theme and the hand-over
const generation = new WeakMap();
let queue = Promise.resolve();
let observer = null;

export function eager(...nodes) {
  for (const node of nodes) if (node) eagerNodes.add(node);
}

const yieldToMain = () => (globalThis.scheduler?.yield ? globalThis.scheduler.yield()
  : new Promise((resolve) => setTimeout(resolve, 0)));

// Which figures are within a screen's height of the viewport. A canvas off screen gets its
// numbers at once (node.data, data-source) and its pixels when it comes near: painting it would
// force the layout of content the browser skips (content-visibility), for nobody to see.
const near = new WeakSet();
const unpainted = new WeakSet();
const nearObserver = new IntersectionObserver((entries) => {
  for (const { target, isIntersecting } of entries) {
    if (!isIntersecting) { near.delete(target); continue; }
    near.add(target);
    if (unpainted.has(target)) render(target).catch((err) => console.warn("pe-plots:", err.message));
  }
}, { rootMargin: "100% 0px" });
const watched = new WeakSet();
function watch(node) {
  if (!watched.has(node)) { watched.add(node); nearObserver.observe(node); }
}

function render(node) {
  const mine = (generation.get(node) || 0) + 1;
  generation.set(node, mine);
  watch(node);
  const run = queue.then(async () => {
    await yieldToMain(); // not in the task that ran Plotly's script or the previous figure
    if (generation.get(node) !== mine || !latest.has(node)) return; // a newer draw is queued
    const usePlotly = Boolean(window.Plotly) || !canvasCan(latest.get(node).figure);
    const Plotly = usePlotly ? window.Plotly || await loadPlotly() : null;
    if (generation.get(node) !== mine) return;
    const { figure, source } = latest.get(node); // the newest, also after waiting for Plotly
    const fig = styled(figure, theme());
    node.querySelector(".plot-fallback")?.remove();
    node.style.height = `${figure.layout.height}px`;
    if (Plotly && !near.has(node) && !node.checkVisibility?.()) {
      unpainted.add(node); // hidden (a closed <details>): Plotly draws it when it is shown
      return;
    }
    if (!Plotly && !near.has(node)) { // numbers now, pixels when near (nearObserver)
      node.data = fig.data;
      node.layout = fig.layout;
      unpainted.add(node);
      drawn.add(node);
      node.dataset.source = source;
      node.removeAttribute("data-busy");
      addDownload(node);
      if (source === "pyodide") loadPlotlyWhenIdle();
      return;
    }
    unpainted.delete(node);
    if (Plotly) {
      if (owner.get(node) !== "plotly") {
        node.querySelector(":scope > canvas.plot-canvas")?.remove();
        delete node.data;
        delete node.layout;
      }
      await Plotly.react(node, fig.data, fig.layout, CONFIG);
      owner.set(node, "plotly");
    } else {
      drawCanvas(node, fig);
      owner.set(node, "canvas");
      if (source === "pyodide") loadPlotlyWhenIdle();
    }
    drawn.add(node);
    node.dataset.source = source;
    node.removeAttribute("data-busy");
    addDownload(node);
  });
  queue = run.catch(() => {});
  return run;
}

function drawWhenNear(node) {
  generation.set(node, (generation.get(node) || 0) + 1); // drops a queued older draw
  observer ??= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      render(entry.target).catch((err) => console.warn("pe-plots:", err.message));
    }
  }, { rootMargin: "100% 0px" });
  observer.observe(node);
}

// Resolves once drawn (eager figures) or once accepted (the others draw when near the screen).
export async function draw(node, figure, source) {
  if (!node || !figure) return;
  latest.set(node, { figure, source });
  if (eagerNodes.has(node)) return render(node);
  drawWhenNear(node);
}

// Plotly has arrived: it redraws every figure the canvas drew, each in its own task, the
// eager (and so visible) ones first, the rest when they come near the screen.
function handOver() {
  const canvasNodes = [...drawn].filter((node) => owner.get(node) !== "plotly");
  for (const node of canvasNodes) if (eagerNodes.has(node) && near.has(node)) render(node).catch(() => {});
  for (const node of canvasNodes) if (!eagerNodes.has(node) || !near.has(node)) drawWhenNear(node);
}

// A new system theme: every drawn figure again, in the new colours.
let themeCache = null;
globalThis.matchMedia?.("(prefers-color-scheme: dark)").addEventListener("change", () => {
  themeCache = null;
  for (const node of drawn) render(node).catch(() => {});
});

// Moves the outlined "selection" shape (see figures.py) without redrawing the data.
export async function moveSelection(node, shape) {
  const entry = node && latest.get(node);
  const current = entry?.figure.layout?.shapes?.find((s) => s.name === "selection");
  if (!current || ["x0", "x1", "y0", "y1"].every((key) => current[key] === shape[key])) return;
  const moved = { ...current, x0: shape.x0, x1: shape.x1, y0: shape.y0, y1: shape.y1 };
  const layout = { ...entry.figure.layout, shapes: entry.figure.layout.shapes.map((s) => (s === current ? moved : s)) };
  latest.set(node, { ...entry, figure: { ...entry.figure, layout } });
  if (owner.get(node) === "canvas" || unpainted.has(node)) {
    const fig = styled(latest.get(node).figure, theme());
    if (unpainted.has(node)) { node.data = fig.data; node.layout = fig.layout; } else drawCanvas(node, fig);
  } else if (owner.get(node) === "plotly" && node.layout?.shapes) {
    const update = {};
    node.layout.shapes.forEach((s, i) => {
      if (s.name !== "selection" && s.name !== "selection-ring") return;
      for (const key of ["x0", "x1", "y0", "y1"]) update[`shapes[${i}].${key}`] = shape[key];
    });
    await window.Plotly.relayout(node, update);
  }
}

export function busy(node, on = true) {
  if (node) node.dataset.busy = on ? "true" : "false";
}

// ------------------------------------------------------------------ theme
// The page's colours, read once per theme (a style read after DOM changes costs a style recalc).
function theme() {
  if (themeCache) return themeCache;
  const style = getComputedStyle(document.documentElement);
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  themeCache = { fg: v("--fg", "#1d1f23"), muted: v("--muted", "#5b616b"), line: v("--line", "#d9dce1"),
                 bg: v("--bg", "#fdfdfc"), panel: v("--panel", "#f3f4f6"), highlight: v("--highlight", "#f5a300") };
  return themeCache;
}

const titled = (title) => (typeof title === "string" ? { text: title } : title || {});

// The figure dict in the page's colours (a copy: the dicts are shared with the view cache).
function styled(figure, t) {
  const L = figure.layout || {};
  const axis = (a) => a && {
    ...a, color: t.fg, gridcolor: t.line, zerolinecolor: t.line, linecolor: t.line, tickcolor: t.line,
    tickfont: { ...a.tickfont, color: t.muted },
    title: { ...titled(a.title), font: { ...titled(a.title).font, color: t.fg } },
  };
  const shapes = [];
  for (const s of L.shapes || []) {
    if (s.name !== "selection") { shapes.push(s); continue; }
    shapes.push({ ...s, line: { ...s.line, color: RING.outer, width: RING.width } },
                { ...s, name: "selection-ring", line: { ...s.line, color: t.highlight, width: RING.inner } });
  }
  const data = (figure.data || []).map((trace) => (trace.type === "heatmap" && trace.showscale !== false ? {
    ...trace,
    colorbar: { ...trace.colorbar, outlinecolor: t.line, bordercolor: t.line, bgcolor: "rgba(0,0,0,0)",
                tickcolor: t.line, tickfont: { ...trace.colorbar?.tickfont, color: t.muted },
                title: { ...titled(trace.colorbar?.title), font: { ...titled(trace.colorbar?.title).font, color: t.fg } } },
  } : trace));
  const layout = {
    ...L,
    font: { ...L.font, color: t.fg },
    title: { ...titled(L.title), font: { ...titled(L.title).font, color: t.fg } },
    paper_bgcolor: t.bg, plot_bgcolor: t.bg,
    hoverlabel: { ...L.hoverlabel, bgcolor: t.panel, bordercolor: t.line, font: { ...L.hoverlabel?.font, color: t.fg } },
    xaxis: axis(L.xaxis), yaxis: axis(L.yaxis),
    shapes,
  };
  if (L.legend || data.length > 1) layout.legend = { ...L.legend, font: { ...L.legend?.font, color: t.fg }, bgcolor: "rgba(0,0,0,0)" };
  return { data, layout };
}

// ------------------------------------------------------------------ "PNG"
// Only on the figures a reader may want a picture of (the template marks them data-download):
// a button on every figure would add a tab stop to each.
function addDownload(node) {
  if (!("download" in node.dataset) || node.querySelector(":scope > .plot-download")) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "plot-download";
  button.textContent = "PNG";
  button.title = "Download this figure as a PNG image (made in your browser)";
  // Named within its figure (the figure's own label names the figure, as before).
  button.setAttribute("aria-label", "Download PNG");
  button.addEventListener("click", () => download(node).catch((err) => console.warn("pe-plots:", err.message)));
  node.append(button);
}

async function download(node) {
  let blob;
  if (owner.get(node) === "plotly" && window.Plotly) {
    const url = await window.Plotly.toImage(node, { format: "png", scale: 2 });
    const bytes = atob(url.slice(url.indexOf(",") + 1));
    blob = new Blob([Uint8Array.from(bytes, (c) => c.charCodeAt(0))], { type: "image/png" });
  } else {
    if (!latest.has(node)) return;
    if (unpainted.has(node) || !node.querySelector(":scope > canvas.plot-canvas")) {
      unpainted.delete(node);
      drawCanvas(node, styled(latest.get(node).figure, theme()));
      owner.set(node, "canvas");
    }
    const canvas = node.querySelector(":scope > canvas.plot-canvas");
    blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${node.id || "figure"}.png`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ------------------------------------------------------------------ the canvas renderer
// Draws what Plotly would from the same (styled) figure dict: heatmaps (cells, zmin/zmax/
// zmid, colour scale, reversescale, colour bar, selection shapes) and grouped bar charts,
// with the title, axis titles and ticks. node.data and node.layout hold the figure, as
// Plotly's do, so that readers of the numbers (the tests, the stepper) need not care.
const canvasCan = (fig) => fig?.data?.length > 0 && (
  fig.data.every((t) => t.type === "heatmap" && Array.isArray(t.z) && Array.isArray(t.z[0]) && scaleOf(t))
  || fig.data.every((t) => t.type === "bar" && Array.isArray(t.y)));

const resizeObserver = typeof ResizeObserver === "undefined" ? null : new ResizeObserver((entries) => {
  for (const { target } of entries) {
    if (owner.get(target) !== "canvas" || !latest.has(target)) continue;
    const width = target.clientWidth;
    if (width && width !== target._canvasWidth) drawCanvas(target, styled(latest.get(target).figure, theme()));
  }
});

const colourCtx = document.createElement("canvas").getContext("2d");
function rgb(colour) {
  colourCtx.fillStyle = "#000";
  colourCtx.fillStyle = String(colour);
  const c = colourCtx.fillStyle; // "#rrggbb" or "rgba(r, g, b, a)"
  if (c.startsWith("#")) return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  return c.match(/[\d.]+/g).slice(0, 3).map(Number);
}

function scaleOf(trace) {
  const named = typeof trace.colorscale === "string" ? scales[trace.colorscale] : trace.colorscale;
  if (!Array.isArray(named) || named.length < 2) return null;
  let stops = named.map(([t, c]) => [Number(t), Array.isArray(c) ? c : rgb(c)]);
  if (trace.reversescale) stops = stops.map(([t, c]) => [1 - t, c]).reverse();
  return stops;
}

function colourAt(stops, t) {
  for (let i = 1; i < stops.length; i++) {
    const [t1, c1] = stops[i];
    if (t <= t1) {
      const [t0, c0] = stops[i - 1];
      const f = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
      return [0, 1, 2].map((k) => Math.round(c0[k] + (c1[k] - c0[k]) * f));
    }
  }
  return stops.at(-1)[1];
}

// Plotly's colour domain: zmin/zmax when both are given, else the data's range, centred on zmid.
function zRange(trace) {
  if (Number.isFinite(trace.zmin) && Number.isFinite(trace.zmax)) return [trace.zmin, trace.zmax];
  let lo = Infinity, hi = -Infinity;
  for (const row of trace.z) for (const v of row) if (v !== null && v !== undefined) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (Number.isFinite(trace.zmin)) lo = trace.zmin;
  if (Number.isFinite(trace.zmax)) hi = trace.zmax;
  if (Number.isFinite(trace.zmid)) { const half = Math.max(trace.zmid - lo, hi - trace.zmid); lo = trace.zmid - half; hi = trace.zmid + half; }
  return lo <= hi ? [lo, hi] : [0, 1];
}

// "Nice" tick values for [lo, hi], about `count` of them.
function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * p).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
const tickText = (v) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));
const plain = (text) => String(text ?? "").replace(/<br\s*\/?>/gi, " ").replace(/<[^>]*>/g, "")
  .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

const cellCache = new WeakMap(); // z array -> { key, bitmap } (the cells, one pixel each)
function cells(trace, stops, lo, hi) {
  const key = `${JSON.stringify(stops)}|${lo}|${hi}`;
  const hit = cellCache.get(trace.z);
  if (hit?.key === key) return hit.canvas;
  const rows = trace.z.length, cols = trace.z[0].length;
  const lut = Array.from({ length: 256 }, (_, i) => colourAt(stops, i / 255));
  const image = new ImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    const row = trace.z[r];
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (v === null || v === undefined) continue;
      const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
      const [R, G, B] = lut[Math.round(t * 255)];
      const i = (r * cols + c) * 4;
      image.data[i] = R; image.data[i + 1] = G; image.data[i + 2] = B; image.data[i + 3] = 255;
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = cols;
  canvas.height = rows;
  canvas.getContext("2d").putImageData(image, 0, 0);
  cellCache.set(trace.z, { key, canvas });
  return canvas;
}

function drawCanvas(node, fig) {
  const L = fig.layout;
  let canvas = node.querySelector(":scope > canvas.plot-canvas");
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = "plot-canvas";
    canvas.setAttribute("role", "img");
    node.prepend(canvas);
    resizeObserver?.observe(node);
  }
  canvas.setAttribute("aria-label", plain(L.title?.text) || node.closest("figure")?.getAttribute("aria-label") || "figure");
  const width = node.clientWidth || 480, height = L.height || 300;
  node._canvasWidth = width;
  const dpr = Math.min(2, globalThis.devicePixelRatio || 1);
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = L.paper_bgcolor;
  ctx.fillRect(0, 0, width, height);
  const family = L.font?.family || "system-ui, sans-serif";
  const font = (size) => `${size}px ${family}`;
  const m = { l: 80, r: 80, t: 100, b: 80, ...L.margin };
  const isBar = fig.data[0].type === "bar";
  // Plotly's colour bar sits right of the plot area and widens the right margin to fit.
  const trace = fig.data[0];
  const showScale = !isBar && trace.showscale !== false;
  const [lo, hi] = isBar ? [0, 1] : zRange(trace);
  const barTicks = showScale ? ticks(lo, hi, 4) : [];
  ctx.font = font(L.font?.size || 12);
  const labelWidth = Math.max(0, ...barTicks.map((v) => ctx.measureText(tickText(v)).width));
  const thickness = trace.colorbar?.thickness ?? 30;
  // The colour bar's title stands rotated right of its tick labels: one line of text wide.
  const titleBand = showScale && trace.colorbar?.title?.text ? (L.font?.size || 12) + 8 : 0;
  const scaleWidth = showScale ? 10 + thickness + 6 + labelWidth + 6 + titleBand : 0;
  // A legend below the plot (orientation "h", y < 0) takes a row Plotly adds to the margin.
  const legendRow = isBar && fig.data.some((t) => t.name) && L.legend?.orientation === "h" ? 28 : 0;
  const area = { x: m.l, y: m.t, w: width - m.l - Math.max(m.r, scaleWidth), h: height - m.t - m.b - legendRow };
  if (isBar) drawBars(ctx, fig, area, font);
  else drawHeatmap(ctx, fig, area, font, { lo, hi, showScale, barTicks, thickness, labelWidth, titleBand });
  // Title: Plotly's x 0 / left anchor, in the middle of the top margin.
  ctx.fillStyle = L.title?.font?.color || L.font?.color;
  ctx.font = font(L.title?.font?.size || 17);
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  if (L.title?.text) ctx.fillText(plain(L.title.text), 4, m.t / 2);
  node.data = fig.data;
  node.layout = fig.layout;
}

function axisLabels(ctx, L, area, font) {
  ctx.fillStyle = L.xaxis?.title?.font?.color || L.font?.color;
  ctx.font = font(L.font?.size || 12);
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  if (L.xaxis?.visible !== false && L.xaxis?.title?.text) ctx.fillText(plain(L.xaxis.title.text), area.x + area.w / 2, area.y + area.h + 34);
  if (L.yaxis?.visible !== false && L.yaxis?.title?.text) {
    ctx.save();
    ctx.translate(14, area.y + area.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(plain(L.yaxis.title.text), 0, 0);
    ctx.restore();
  }
}

function drawHeatmap(ctx, fig, area, font, { lo, hi, showScale, barTicks, thickness, labelWidth, titleBand }) {
  const L = fig.layout, trace = fig.data[0];
  const rows = trace.z.length, cols = trace.z[0].length;
  const stops = scaleOf(trace);
  let { x, y, w, h } = area;
  if (L.yaxis?.scaleanchor === "x" || L.xaxis?.scaleanchor === "y") { // square cells, centred
    const s = Math.min(w / cols, h / rows);
    x += (w - s * cols) / 2; y += (h - s * rows) / 2; w = s * cols; h = s * rows;
  }
  const cw = w / cols, ch = h / rows;
  const down = L.yaxis?.autorange === "reversed"; // row 0 at the top
  ctx.imageSmoothingEnabled = false;
  const bitmap = cells(trace, stops, lo, hi);
  if (down) ctx.drawImage(bitmap, x, y, w, h);
  else { ctx.save(); ctx.translate(0, y + h); ctx.scale(1, -1); ctx.drawImage(bitmap, x, 0, w, h); ctx.restore(); }
  // Ticks: numbers along x, category labels (or row numbers) along y, thinned to fit.
  ctx.fillStyle = L.xaxis?.tickfont?.color || L.font?.color;
  ctx.font = font(L.font?.size || 12);
  const xs = trace.x || [...Array(cols).keys()];
  const ys = trace.y || [...Array(rows).keys()];
  if (L.xaxis?.visible !== false) {
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const numeric = xs.every((v) => typeof v === "number");
    const every = Math.max(1, Math.ceil(cols / Math.max(1, Math.floor(w / 50))));
    for (let c = 0; c < cols; c++) {
      const show = numeric ? ticks(xs[0], xs.at(-1), Math.max(1, Math.floor(w / 70))).includes(xs[c]) : c % every === 0;
      if (show) ctx.fillText(String(xs[c]), x + (c + 0.5) * cw, y + h + 4);
    }
  }
  if (L.yaxis?.visible !== false) {
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const every = Math.max(1, Math.ceil(rows / Math.max(1, Math.floor(h / 16))));
    for (let r = 0; r < rows; r += every) {
      const row = down ? r : rows - 1 - r;
      ctx.fillText(String(ys[r]), x - 6, y + (row + 0.5) * ch);
    }
  }
  axisLabels(ctx, L, area, font);
  if (showScale) {
    const len = trace.colorbar?.len ?? 1;
    const bh = area.h * len, by = area.y + (area.h - bh) / 2, bx = area.x + area.w + 10;
    const gradient = ctx.createLinearGradient(0, by + bh, 0, by);
    for (const [t, c] of stops) gradient.addColorStop(Math.min(1, Math.max(0, t)), `rgb(${c.join(",")})`);
    ctx.fillStyle = gradient;
    ctx.fillRect(bx, by, thickness, bh);
    ctx.strokeStyle = trace.colorbar?.outlinecolor || L.font?.color;
    ctx.lineWidth = 1;
    ctx.strokeRect(bx + 0.5, by + 0.5, thickness - 1, bh - 1);
    ctx.fillStyle = trace.colorbar?.tickfont?.color || L.font?.color;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const v of barTicks) ctx.fillText(tickText(v), bx + thickness + 6, by + bh - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * bh);
    const title = trace.colorbar?.title?.text;
    if (title) {
      ctx.save();
      ctx.fillStyle = trace.colorbar.title.font?.color || L.font?.color;
      ctx.translate(bx + thickness + 6 + labelWidth + 6 + titleBand / 2, by + bh / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.fillText(plain(title), 0, 0);
      ctx.restore();
    }
  }
  // Shapes in data coordinates (the selection: two rings, as Plotly draws them).
  const px = (v) => x + (v + 0.5) * cw;
  const py = (v) => (down ? y + (v + 0.5) * ch : y + h - (v + 0.5) * ch);
  for (const s of L.shapes || []) {
    if (s.type !== "rect" || s.xref !== "x" || s.yref !== "y") continue;
    ctx.strokeStyle = s.line?.color || "#000";
    ctx.lineWidth = s.line?.width ?? 2;
    const x0 = px(s.x0), x1 = px(s.x1), y0 = py(s.y0), y1 = py(s.y1);
    ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  }
}

function drawBars(ctx, fig, area, font) {
  const L = fig.layout, traces = fig.data;
  const { x, y, w, h } = area;
  const n = Math.max(...traces.map((t) => t.y.length));
  const values = traces.flatMap((t) => t.y);
  let lo = Math.min(0, ...values), hi = Math.max(0, ...values);
  const pad = (hi - lo || 1) * 0.05;
  lo -= lo < 0 ? pad : 0; hi += pad;
  const yPix = (v) => y + h - ((v - lo) / (hi - lo)) * h;
  ctx.font = font(L.font?.size || 12);
  ctx.strokeStyle = L.yaxis?.gridcolor || L.font?.color;
  ctx.fillStyle = L.yaxis?.tickfont?.color || L.font?.color;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(lo, hi, Math.max(2, Math.floor(h / 35)))) {
    ctx.beginPath();
    ctx.moveTo(x, Math.round(yPix(v)) + 0.5);
    ctx.lineTo(x + w, Math.round(yPix(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(tickText(v), x - 6, yPix(v));
  }
  const slot = w / n, group = slot * 0.8, bw = group / traces.length;
  traces.forEach((t, k) => {
    ctx.fillStyle = t.marker?.color || ["#3b6fb6", "#f5a300"][k % 2];
    t.y.forEach((v, i) => {
      const top = yPix(Math.max(0, v)), bottom = yPix(Math.min(0, v));
      ctx.fillRect(x + i * slot + (slot - group) / 2 + k * bw, top, bw, Math.max(1, bottom - top));
    });
  });
  ctx.fillStyle = L.xaxis?.tickfont?.color || L.font?.color;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xs = traces[0].x || [...Array(n).keys()];
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(w / 40))));
  for (let i = 0; i < n; i += every) ctx.fillText(String(xs[i]), x + (i + 0.5) * slot, y + h + 4);
  axisLabels(ctx, L, area, font);
  // Legend: one row under the plot (the figures put it there, orientation "h").
  let lx = x;
  const ly = y + h + 58;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  for (const [k, t] of traces.entries()) {
    if (!t.name) continue;
    ctx.fillStyle = t.marker?.color || ["#3b6fb6", "#f5a300"][k % 2];
    ctx.fillRect(lx, ly - 6, 12, 12);
    ctx.fillStyle = L.legend?.font?.color || L.font?.color;
    ctx.fillText(plain(t.name), lx + 18, ly);
    lx += 18 + ctx.measureText(plain(t.name)).width + 24;
  }
}
