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
  grid.dataset.numbers = String(cols <= 12); // a number is readable in a patch of the 224 px image
  grid.parentElement.style.setProperty("--rows", rows);
  grid.parentElement.style.setProperty("--cols", cols);
  const buttons = [];
  for (let k = 0; k < rows * cols; k++) {
    const r = Math.floor(k / cols), c = k % cols;
    buttons.push(el("button", {
      type: "button", class: "patch", "data-patch": k, "aria-pressed": String(k === selected),
      tabindex: k === selected ? "0" : "-1", "aria-label": `Patch ${k} (row ${r}, column ${c})`,
    }, [el("span", { class: "patch-num", "aria-hidden": "true", text: String(k) })]));
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
