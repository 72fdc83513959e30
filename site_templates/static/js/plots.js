// Drawing figures. The figure dicts come whole from pe_engine.figures (build or worker);
// this module only hands them to Plotly and records where their numbers came from.

let plotlyReady = null;
const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"] };

// Plotly is a classic script: inject it asynchronously so it never blocks the text.
export function loadPlotly(src) {
  if (!plotlyReady) {
    plotlyReady = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("Plotly did not load")));
      script.onerror = () => reject(new Error("Plotly could not be downloaded"));
      document.head.append(script);
    });
  }
  return plotlyReady;
}

// Scheduling. Drawn together when Plotly arrived, the page's ~15 figures made one main-thread
// task of 1.5-3.5 s (and held up the worker's "ready" message). So: every figure is drawn in
// a task of its own (one queue, yielding to the browser before each draw); and a figure not
// marked eager waits until it comes within a screen's height of the viewport (one in a closed
// <details> waits until that is opened). data-source is set when a figure is really drawn.
// The stepper marks its figures eager: they carry the live engine's numbers.
const eagerNodes = new WeakSet();
const waiting = new WeakMap(); // node -> the latest { figure, source } not drawn yet
const generation = new WeakMap(); // node -> number of the newest draw asked for
let queue = Promise.resolve();
let observer = null;

export function eager(...nodes) {
  for (const node of nodes) if (node) eagerNodes.add(node);
}

const yieldToMain = () => (globalThis.scheduler?.yield ? globalThis.scheduler.yield()
  : new Promise((resolve) => setTimeout(resolve, 0)));

function render(node, figure, source) {
  const mine = (generation.get(node) || 0) + 1;
  generation.set(node, mine);
  const run = queue.then(async () => {
    const Plotly = await plotlyReady;
    await yieldToMain(); // not in the task that ran Plotly's script or the previous figure
    if (generation.get(node) !== mine) return; // a newer figure for this node is queued
    node.querySelector(".plot-fallback")?.remove();
    node.style.height = `${figure.layout.height}px`;
    await Plotly.react(node, figure.data, figure.layout, CONFIG);
    node.dataset.source = source;
    node.removeAttribute("data-busy");
  });
  queue = run.catch(() => {});
  return run;
}

function drawWhenNear(node, figure, source) {
  waiting.set(node, { figure, source });
  generation.set(node, (generation.get(node) || 0) + 1); // drops a queued older draw
  observer ??= new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const next = entry.isIntersecting && waiting.get(entry.target);
      if (!next) continue;
      waiting.delete(entry.target);
      observer.unobserve(entry.target);
      render(entry.target, next.figure, next.source).catch((err) => console.warn("pe-plots:", err.message));
    }
  }, { rootMargin: "100% 0px" });
  observer.observe(node);
}

// Resolves once drawn (eager figures) or once accepted (the others draw when near the screen).
export async function draw(node, figure, source) {
  if (!node || !figure) return;
  if (eagerNodes.has(node)) return render(node, figure, source);
  drawWhenNear(node, figure, source);
}

// Moves the outlined "selection" shape (see figures.py) without redrawing the data.
export async function moveSelection(node, shape) {
  if (!node?.layout?.shapes) return;
  const Plotly = await plotlyReady;
  const index = node.layout.shapes.findIndex((s) => s.name === "selection");
  if (index < 0) return;
  const current = node.layout.shapes[index];
  if (["x0", "x1", "y0", "y1"].every((key) => current[key] === shape[key])) return;
  const update = {};
  for (const key of ["x0", "x1", "y0", "y1"]) update[`shapes[${index}].${key}`] = shape[key];
  await Plotly.relayout(node, update);
}

export function busy(node, on = true) {
  if (node) node.dataset.busy = on ? "true" : "false";
}
