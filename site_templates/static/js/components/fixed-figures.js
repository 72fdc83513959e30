// Components whose figures are fixed by their options: drawn from the build's view, then
// recomputed once by the engine (the same call, by the component's name).
import * as plots from "../plots.js";

export function mountFixedFigures(root, data, engine) {
  const draw = (view, source) => Promise.all(Object.entries(view.figures).map(([name, fig]) =>
    plots.draw(root.querySelector(`#${root.id}-${name}`), fig, source)));
  engine.ready.then(async () => {
    try {
      await draw(await engine.call(data.name, data.options), "pyodide");
    } catch (err) {
      console.warn(`pe-${data.name}: ${err.message}`);
    }
  }, () => {});
  return draw(data.view, "build");
}
