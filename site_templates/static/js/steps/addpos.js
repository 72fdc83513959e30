// Step 5 · Add Pos: token + E_pos row = z0 row, for the selected patch and strategy.
import { fillVector, setText } from "../dom.js";

export function render(panel, view, part, selected) {
  const dims = view.shown_dims, total = view.config.dim;
  setText(panel, '[data-field="row"]', selected + 1);
  setText(panel, '[data-field="k"]', selected);
  const token = view.tokens[selected], pe = part?.pe[selected + 1], z0 = part?.z0[selected];
  if (token) fillVector(panel.querySelector(".vec.token"), token, { dims, total });
  if (pe) fillVector(panel.querySelector(".vec.pe"), pe, { dims, total });
  if (z0) fillVector(panel.querySelector(".vec.z0"), z0, { dims, total });
}
