// Step 4 · Flatten: [CLS] followed by the N tokens, the selected one highlighted.
import { el, setText } from "../dom.js";
import { renderBlocks } from "./project.js";

export function render(panel, view, selected) {
  const n = view.grid.rows * view.grid.cols;
  setText(panel, '[data-field="seqlen"]', n + 1);
  setText(panel, '[data-field="dim"]', view.config.dim);
  const cls = el("li", { class: "seq-item cls", text: "[CLS]" });
  renderBlocks(panel.querySelector("[data-sequence]"), n, selected, "seq-item", [cls]);
}
