// Step 2 · Patch: the grid over the image; every patch is a button.
import { el, setText } from "../dom.js";

export function render(panel, view) {
  const { rows, cols } = view.grid;
  setText(panel, '[data-field="grid"]', `${rows} × ${cols}`);
  setText(panel, '[data-field="patchsize"]', `${view.config.patch} × ${view.config.patch}`);
  setText(panel, '[data-field="n"]', rows * cols);
}

// Rebuilds the patch buttons when the grid changes.
export function buildGrid(grid, rows, cols, selected) {
  if (Number(grid.dataset.rows) === rows && Number(grid.dataset.cols) === cols) return;
  grid.dataset.rows = rows;
  grid.dataset.cols = cols;
  grid.style.setProperty("--rows", rows);
  grid.style.setProperty("--cols", cols);
  const buttons = [];
  for (let k = 0; k < rows * cols; k++) {
    const r = Math.floor(k / cols), c = k % cols;
    buttons.push(el("button", {
      type: "button", class: "patch", "data-patch": k, "aria-pressed": String(k === selected),
      tabindex: k === selected ? "0" : "-1", text: `Patch ${k} (row ${r}, column ${c})`,
    }));
  }
  grid.replaceChildren(...buttons);
}

export function markSelected(grid, selected) {
  for (const button of grid.querySelectorAll(".patch")) {
    const on = Number(button.dataset.patch) === selected;
    button.setAttribute("aria-pressed", String(on));
    button.tabIndex = on ? 0 : -1;
  }
}
