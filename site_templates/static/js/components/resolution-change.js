// Fine-tuning at a new resolution (`resolution-change`): a learned table resampled to a new
// grid, next to the fixed tables recomputed for it.
import * as plots from "../plots.js";
import { showRange } from "../marks.js";
import { problems } from "../schema.js";

export function mount(root, data, engine) {
  const form = root.querySelector("[data-resolution-form]");
  const status = root.querySelector("[data-status]");
  const o = data.options;
  const names = Object.keys(data.view.figures);
  const nodes = Object.fromEntries(names.map((f) => [f, root.querySelector(`#${root.id}-${f}`)]));
  const value = (name) => form.elements[name].value;
  let seq = 0;

  const component = data.schema.components[data.name];
  const drawAll = (view, source) => Promise.all(names.map((f) => {
    showRange(nodes[f], view.figures[f]);
    return plots.draw(nodes[f], view.figures[f], source);
  }));

  async function update() {
    const mine = ++seq;
    const choice = { from_grid: Number(value("from_grid")), to_grid: Number(value("to_grid")), method: value("method"),
                     channel: Number(value("channel")) };
    const wrong = problems(component, { ...o, ...choice });
    if (wrong.length) { status.textContent = `${wrong[0]} The figures stay as they were.`; return; }
    if (engine.state !== "ready") {
      status.textContent = "The live engine is still starting; the figures will follow your choice when it is ready.";
      await engine.ready.catch(() => {});
      if (mine !== seq) return; // a newer choice was made meanwhile: only it runs
      if (engine.state !== "ready") { status.textContent = "The live engine is unavailable; showing the pre-computed example."; return; }
    }
    try {
      status.textContent = "Resampling…";
      const view = await engine.call("resolution-change", { ...choice, dim: o.dim, seed: o.seed });
      if (mine !== seq) return;
      await drawAll(view, "pyodide");
      status.textContent = `Resampled ${choice.from_grid}×${choice.from_grid} → ${choice.to_grid}×${choice.to_grid} with ${choice.method}, channel ${choice.channel} shown.`;
    } catch (err) {
      if (mine === seq) status.textContent = `Could not resample: ${err.message} The previous figures stay.`;
    }
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", (e) => e.preventDefault());
  return drawAll(data.view, "build");
}
