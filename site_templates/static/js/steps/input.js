// Step 1 · Input: the image and its size.
import { setText } from "../dom.js";

export function render(panel, view) {
  const size = view.config.image_size;
  setText(panel, '[data-field="size"]', `${size} × ${size}`);
  // No toLocaleString: its first call loads Intl data (~80 ms) during the first render.
  setText(panel, '[data-field="values"]', String(size * size * 3).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
}
