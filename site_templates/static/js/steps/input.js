// Step 1 · Input: the image and its size.
import { setText } from "../dom.js";

export function render(panel, view) {
  const size = view.config.image_size;
  setText(panel, '[data-field="size"]', `${size} × ${size}`);
  setText(panel, '[data-field="values"]', (size * size * 3).toLocaleString("en"));
}
