// Swin's relative bias and 2D RoPE both say: what a query–key pair gets depends only on the
// pair's offset. The reader picks a pair (a click on a figure, or the arrow keys on a focused
// figure); every pair with the same offset is outlined in every figure, and the readout says
// what they share. Drawn from the build's view, then recomputed once by the engine.
import * as plots from "../plots.js";
import { HIGHLIGHT, onPlotlyEvent, withMarks } from "../marks.js";
import { cell_outline } from "../shapes.js";

export function mountOffsetPairs(root, data, engine, { side, pairFigures, describe }) {
  let view = data.view, source = "build";
  const n = side * side;
  const at = (t) => [Math.floor(t / side), t % side];
  const offset = (q, k) => { const [qr, qc] = at(q), [kr, kc] = at(k); return [qr - kr, qc - kc]; };
  let pair = null; // [query, key]
  const readout = root.querySelector("[data-pair-readout]");
  const node = (name) => root.querySelector(`#${root.id}-${name}`);

  function marks() {
    if (!pair) return [];
    const [dr, dc] = offset(...pair);
    const shapes = [];
    for (let q = 0; q < n; q++) {
      for (let k = 0; k < n; k++) {
        const [r, c] = offset(q, k);
        if (r === dr && c === dc) shapes.push(cell_outline(q, k, HIGHLIGHT));
      }
    }
    return shapes;
  }

  function draw() {
    const shapes = marks();
    return Promise.all(Object.entries(view.figures).map(([name, fig]) =>
      plots.draw(node(name), pairFigures.includes(name) ? withMarks(fig, HIGHLIGHT, shapes) : fig, source)));
  }

  function choose(q, k) {
    pair = [Math.max(0, Math.min(n - 1, q)), Math.max(0, Math.min(n - 1, k))];
    const [dr, dc] = offset(...pair);
    const count = marks().length;
    const [qr, qc] = at(pair[0]), [kr, kc] = at(pair[1]);
    readout.textContent = `Query token ${pair[0]} (row ${qr}, column ${qc}) and key token ${pair[1]} (row ${kr}, ` +
      `column ${kc}): offset (Δrow, Δcolumn) = (${dr}, ${dc}). ${describe(view, pair[0], pair[1])} ` +
      `${count} ${count === 1 ? "pair has" : "pairs share"} this offset.`;
    return draw();
  }

  for (const name of pairFigures) {
    const figure = node(name);
    if (!figure) continue;
    figure.tabIndex = 0;
    figure.setAttribute("aria-label", `${figure.closest("figure").getAttribute("aria-label")}: use the arrow keys to choose a query–key pair`);
    onPlotlyEvent(figure, "plotly_click", (e) => {
      const point = e.points?.[0];
      if (point) choose(Number(point.y), Number(point.x));
    });
    figure.addEventListener("keydown", (e) => {
      const [q, k] = pair || [0, 0];
      const moves = { ArrowUp: [q - 1, k], ArrowDown: [q + 1, k], ArrowLeft: [q, k - 1], ArrowRight: [q, k + 1],
                      Home: [0, 0], End: [n - 1, n - 1] };
      if (!(e.key in moves)) return;
      e.preventDefault();
      choose(...(pair ? moves[e.key] : [0, 0]));
    });
  }

  engine.ready.then(async () => {
    try {
      view = await engine.call(data.name, data.options);
      source = "pyodide";
      await draw();
    } catch (err) {
      console.warn(`pe-${data.name}: ${err.message}`);
    }
  }, () => {});
  return draw();
}
