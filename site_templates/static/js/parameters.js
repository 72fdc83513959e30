// Image size, patch size, embedding dimension and model presets, with the live
// dimension table. The engine validates; a bad combination shows its message and
// the last valid view stays on screen.

export function mountParameters(root, data, engine, store) {
  const form = root.querySelector("[data-param-form]");
  const error = root.querySelector("[data-param-error]");
  const table = root.querySelector("[data-dimension-table]");
  const field = (name) => form.querySelector(`[data-param="${name}"]`);
  const presets = data.presets || {};
  const note = root.querySelector("[data-parameters] summary");
  let enabled = false;

  for (const control of form.elements) control.disabled = true;
  note.dataset.waiting = "true";

  function showDims(d) {
    const set = (key, text) => { const cell = table.querySelector(`[data-dim="${key}"]`); if (cell) cell.textContent = text; };
    set("num_patches", d.num_patches.toLocaleString("en"));
    set("seq_len", d.seq_len.toLocaleString("en"));
    set("E_shape", `${d.E_shape[0]} × ${d.E_shape[1]}`);
    set("E_pos_shape", `${d.E_pos_shape[0]} × ${d.E_pos_shape[1]}`);
    set("E_params", d.E_params.toLocaleString("en"));
    set("E_pos_params", d.E_pos_params.toLocaleString("en"));
  }

  function showError(message) {
    error.textContent = message || "";
    error.hidden = !message;
  }

  async function apply(values) {
    try {
      const { dims } = await engine.call("check", { image_size: values.image_size, patch: values.patch, dim: values.dim });
      showError("");
      showDims(dims);
      store.set(values);
    } catch (err) {
      showError(`${err.message}. The last valid view stays.`);
    }
  }

  function readForm() {
    return { image_size: Number(field("image_size").value), patch: Number(field("patch").value),
             dim: Number(field("dim").value) };
  }

  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", (e) => {
    if (!enabled) return;
    if (e.target === field("preset")) {
      const preset = presets[field("preset").value];
      if (!preset) return;
      field("image_size").value = String(preset.image_size);
      field("patch").value = String(preset.patch);
      field("dim").value = String(preset.dim);
    } else {
      field("preset").value = "";
    }
    const values = readForm();
    if (!Number.isInteger(values.dim)) return showError("Embedding dimension must be a whole number.");
    const n = (values.image_size / values.patch) ** 2;
    apply({ ...values, selected: Math.min(store.get().selected, Math.max(0, Math.floor(n) - 1)) });
  });

  store.subscribe((s, changed) => {
    if (!["image_size", "patch", "dim"].some((k) => changed.has(k))) return;
    field("image_size").value = String(s.image_size);
    field("patch").value = String(s.patch);
    field("dim").value = String(s.dim);
    if (enabled) engine.call("check", { image_size: s.image_size, patch: s.patch, dim: s.dim })
      .then(({ dims }) => showDims(dims), () => {});
  });

  return {
    enable() {
      enabled = true;
      for (const control of form.elements) control.disabled = false;
      delete note.dataset.waiting;
    },
  };
}
