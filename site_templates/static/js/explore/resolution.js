// Fine-tune resolution: a learned table resampled to a new grid, next to the fixed
// tables recomputed for it.
import * as plots from "../plots.js";

const FIGURES = ["learned_old", "learned_new", "similarity_learned", "similarity_sinusoidal",
                 "similarity_sincos2d", "sinusoidal_new", "sincos2d_new"];

export function mountResolution(root, data, engine) {
  const form = root.querySelector("[data-resolution-form]");
  const status = root.querySelector("[data-status]");
  const o = data.options;
  const nodes = Object.fromEntries(FIGURES.map((f) => [f, root.querySelector(`#${root.id}-${f}`)]));
  let seq = 0;

  function drawAll(view, source) {
    return Promise.all(FIGURES.map((f) => plots.draw(nodes[f], view.figures[f], source)));
  }

  async function update() {
    const mine = ++seq;
    const to_grid = Number(form.elements.to_grid.value);
    const method = form.elements.method.value;
    if (engine.state !== "ready") {
      status.textContent = "The live engine is still starting; the figures will follow your choice when it is ready.";
      await engine.ready.catch(() => {});
      if (engine.state !== "ready") { status.textContent = "The live engine is unavailable; showing the pre-computed example."; return; }
    }
    try {
      status.textContent = "Resampling…";
      const view = await engine.call("resolution", { from_grid: o.from_grid, to_grid, dim: o.dim, method, seed: o.seed });
      if (mine !== seq) return;
      await drawAll(view, "pyodide");
      status.textContent = `Resampled ${o.from_grid}×${o.from_grid} → ${to_grid}×${to_grid} with ${method}.`;
    } catch (err) {
      if (mine === seq) status.textContent = `Could not resample: ${err.message}. The previous figures stay.`;
    }
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", (e) => e.preventDefault());
  return drawAll(data.view, "build");
}
