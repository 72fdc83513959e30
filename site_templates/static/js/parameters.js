// Image size, patch size, embedding dimension and model presets, with the live dimension
// table. Values are checked here with the component's schema (the rules the build and the
// engine use); a bad combination shows its message and the last valid view stays.
import { problems } from "./schema.js";

const group = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); // no Intl: its first use loads ICU data

export function mountParameters(root, data, component, store) {
  const form = root.querySelector("[data-param-form]");
  const error = root.querySelector("[data-param-error]");
  const table = root.querySelector("[data-dimension-table]");
  const field = (name) => form.querySelector(`[data-option="${name}"]`);
  const presets = data.view.presets || {};
  const note = root.querySelector("[data-parameters] summary");
  const sizes = ["image_size", "patch", "dim"];
  let enabled = false;

  for (const control of form.elements) control.disabled = true;
  note.dataset.waiting = "true";

  function showDims(d) {
    const set = (key, text) => { const cell = table.querySelector(`[data-dim="${key}"]`); if (cell) cell.textContent = text; };
    set("num_patches", group(d.num_patches));
    set("seq_len", group(d.seq_len));
    set("E_shape", `${d.E_shape[0]} × ${d.E_shape[1]}`);
    set("E_pos_shape", `${d.E_pos_shape[0]} × ${d.E_pos_shape[1]}`);
    set("E_params", group(d.E_params));
    set("E_pos_params", group(d.E_pos_params));
  }

  function showError(message) {
    error.textContent = message || "";
    error.hidden = !message;
  }

  // A select must be able to show a preset's value: add it if the build did not offer it.
  function setField(name, value) {
    const control = field(name);
    if (control.tagName === "SELECT" && ![...control.options].some((opt) => Number(opt.value) === value)) {
      const opt = document.createElement("option");
      opt.value = String(value);
      opt.textContent = `${value} px`;
      control.append(opt);
    }
    control.value = String(value);
  }

  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", (e) => {
    if (!enabled) return;
    if (e.target === field("preset")) {
      const preset = presets[field("preset").value];
      if (!preset) return;
      for (const name of sizes) setField(name, preset[name]);
    } else {
      field("preset").value = "";
    }
    const values = Object.fromEntries(sizes.map((name) => [name, Number(field(name).value)]));
    const wrong = problems(component, values);
    if (wrong.length) return showError(`${wrong[0]} The last valid view stays.`);
    showError("");
    const n = Math.floor(values.image_size / values.patch) ** 2;
    store.set({ ...values, selected: Math.min(store.get().selected, Math.max(0, n - 1)) });
  });

  store.subscribe((s, changed) => {
    if (!sizes.some((k) => changed.has(k))) return;
    for (const name of sizes) setField(name, s[name]);
  });

  return {
    showView: (view) => showDims(view.dims),
    enable() {
      enabled = true;
      for (const control of form.elements) control.disabled = false;
      delete note.dataset.waiting;
    },
    unavailable() {
      note.dataset.waiting = "failed";
    },
  };
}
