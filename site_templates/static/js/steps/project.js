// Step 3 · Project: x_p · E + b for the selected patch, and one E block per patch.
import { el, fillVector, setText } from "../dom.js";

const MAX_BLOCKS = 64;

export function render(panel, view, selected) {
  const dims = view.shown_dims, dim = view.config.dim, len = view.patch_len;
  setText(panel, '[data-field="patchlen"]', len);
  setText(panel, '[data-field="eshape"]', `${view.dims.E_shape[0]} × ${view.dims.E_shape[1]}`);
  setText(panel, '[data-field="dim"]', dim);
  setText(panel, '[data-field="k"]', selected);
  const x = view.x_preview[selected];
  if (x) fillVector(panel.querySelector("[data-projection] .vec"), x, { dims: [0, 1, 2, 3, len - 1], total: len });
  const matrix = panel.querySelector('[data-field="E"]');
  const rows = view.E_preview.map((row, i) => {
    const node = el("span", { class: "vec", "aria-label": "row of E" });
    fillVector(node, row, { dims, total: dim });
    return i === view.E_preview.length - 1
      ? [el("div", { class: "ellipsis-row", "aria-hidden": "true", text: "⋮" }), node]
      : [node];
  });
  matrix.replaceChildren(...rows.flat());
  const token = view.tokens[selected];
  if (token) fillVector(panel.querySelector("[data-projection] .vec.token"), token, { dims, total: dim });
  renderBlocks(panel.querySelector("[data-eblocks]"), view.grid.rows * view.grid.cols, selected, "eblock");
}

// One chip per patch token, written as the article writes it: x_k E (a row vector times E).
export function renderBlocks(list, n, selected, cls, lead = []) {
  const items = [...lead];
  for (let k = 0; k < Math.min(n, MAX_BLOCKS); k++) {
    const item = el("li", { class: cls + (k === selected ? " selected" : ""), "data-k": k },
                    ["x", el("sub", { text: String(k) }), "E"]);
    items.push(item);
  }
  if (n > MAX_BLOCKS) items.push(el("li", { class: `${cls} more`, text: `… ${n - MAX_BLOCKS} more` }));
  list.replaceChildren(...items);
}
