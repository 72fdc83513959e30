// Marks on a drawn figure: outlines that follow the reader (the selected and the hovered
// position, the pairs that share an offset). A mark is a shape in the figure dict, so both
// renderers draw it; `withMarks` returns the figure to hand to plots.draw.
import { cell_outline } from "./shapes.js";

export const HIGHLIGHT = "highlight";

// The figure with every shape named `name` replaced by `shapes`.
export function withMarks(figure, name, shapes) {
  const kept = (figure.layout.shapes || []).filter((s) => s.name !== name);
  return { data: figure.data, layout: { ...figure.layout, shapes: [...kept, ...shapes] } };
}

// Plotly's hover and click events on a figure, attached once Plotly owns it (it arrives late).
export function onPlotlyEvent(node, type, fn) {
  const attach = () => {
    if (!node.on || node.dataset[`on${type}`]) return;
    node.dataset[`on${type}`] = "1";
    node.on(type, fn);
  };
  attach();
  for (const ev of ["pointerenter", "focusin"]) node.addEventListener(ev, attach);
  new MutationObserver(attach).observe(node, { childList: true });
}

// The caption's note of the values the colours span (see the plot macro, range=true).
export function showRange(node, figure) {
  const caption = node?.closest("figure")?.querySelector("[data-range-note]");
  const range = figure?.layout?.meta?.range;
  if (!caption || !range) return;
  caption.querySelector("[data-range-low]").textContent = range[0].toFixed(2);
  caption.querySelector("[data-range-high]").textContent = range[1].toFixed(2);
}

export { cell_outline };
