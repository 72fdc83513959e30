// Components whose figures are fixed by their options (Swin's bias, RoPE): drawn from
// the build's numbers, then recomputed once by the engine to show they agree.
import * as plots from "../plots.js";

const CALLS = {
  "relative-bias": (o) => ["relative_bias", { window: o.window, seed: o.seed }],
  "rope-shift": (o) => ["rope", { grid: o.grid, dim: o.dim, base: o.base }],
};

export function mountStaticFigures(root, data, engine) {
  const draw = (view, source) => Promise.all(Object.entries(view.figures).map(([name, fig]) =>
    plots.draw(root.querySelector(`#${root.id}-${name}`), fig, source)));
  engine.ready.then(async () => {
    const [name, kwargs] = CALLS[data.name](data.options);
    try {
      await draw(await engine.call(name, kwargs), "pyodide");
    } catch (err) {
      console.warn(`pe-${data.name}: ${err.message}`);
    }
  }, () => {});
  return draw(data.view, "build");
}
