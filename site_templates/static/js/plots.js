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

export async function draw(node, figure, source) {
  if (!node || !figure) return;
  const Plotly = await plotlyReady;
  node.querySelector(".plot-fallback")?.remove();
  node.style.height = `${figure.layout.height}px`;
  await Plotly.react(node, figure.data, figure.layout, CONFIG);
  node.dataset.source = source;
  node.removeAttribute("data-busy");
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

// Replaces the z values of trace 0 (used for the similarity map when only the patch changes).
export async function restyleZ(node, z, title, source) {
  if (!node?.data) return;
  const Plotly = await plotlyReady;
  await Plotly.update(node, { z: [z] }, title ? { "title.text": title } : {}, [0]);
  node.dataset.source = source;
}

export function busy(node, on = true) {
  if (node) node.dataset.busy = on ? "true" : "false";
}
