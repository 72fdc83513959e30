// The reader's input to the stepper: step tabs and buttons (with arrow keys), the patch grid
// (click, arrow keys), and the strategy choice. Every control only changes the store; a
// position pointed at or focused (a patch, a token chip, a heatmap row, a similarity cell)
// is outlined in every view at once (drawing.hover).
import { onPlotlyEvent } from "../marks.js";

export function wireControls(root, store, { steps, strategies, drawing }) {
  const q = (sel) => root.querySelector(sel);
  const tabs = [...root.querySelectorAll('[role="tab"]')];
  const grid = q("[data-patch-grid]");

  const go = (delta) => {
    const i = steps.indexOf(store.get().step);
    store.set({ step: steps[Math.min(steps.length - 1, Math.max(0, i + delta))] });
  };
  q("[data-step-prev]").addEventListener("click", () => go(-1));
  q("[data-step-next]").addEventListener("click", () => go(1));
  for (const tab of tabs) {
    tab.addEventListener("click", () => store.set({ step: tab.dataset.step }));
    tab.addEventListener("keydown", (e) => {
      const i = steps.indexOf(tab.dataset.step);
      const moves = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: steps.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const j = (moves[e.key] + steps.length) % steps.length;
      store.set({ step: steps[j] });
      tabs[j].focus();
    });
  }

  grid.addEventListener("click", (e) => {
    const button = e.target.closest(".patch");
    if (button) store.set({ selected: Number(button.dataset.patch) });
  });
  grid.addEventListener("keydown", (e) => {
    const button = e.target.closest(".patch");
    if (!button) return;
    const cols = Number(getComputedStyle(grid).getPropertyValue("--cols")) || 1;
    const n = grid.children.length, k = Number(button.dataset.patch);
    const moves = { ArrowRight: k + 1, ArrowLeft: k - 1, ArrowDown: k + cols, ArrowUp: k - cols, Home: 0, End: n - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const j = moves[e.key];
    if (j < 0 || j >= n) return;
    store.set({ selected: j });
    grid.children[j].focus();
  });

  // The same position in every view.
  const patchOf = (el) => el?.closest?.("[data-patch], [data-k]");
  const index = (el) => Number(el.dataset.patch ?? el.dataset.k);
  for (const type of ["pointerover", "focusin"]) {
    root.addEventListener(type, (e) => {
      const el = patchOf(e.target);
      if (el && root.contains(el) && !Number.isNaN(index(el))) drawing.hover(index(el));
    });
  }
  for (const type of ["pointerout", "focusout"]) {
    root.addEventListener(type, (e) => { if (patchOf(e.target) && !patchOf(e.relatedTarget)) drawing.hover(null); });
  }
  const { heatmap, similarity, tiles } = drawing.nodes;
  const cols = () => drawing.cols() || 1;
  onPlotlyEvent(heatmap, "plotly_hover", (e) => {
    const label = e.points?.[0]?.y;
    drawing.hover(label === undefined || label === "CLS" ? null : Number(label), "heatmap");
  });
  onPlotlyEvent(similarity, "plotly_hover", (e) => {
    const p = e.points?.[0];
    if (p) drawing.hover(Number(p.y) * cols() + Number(p.x), "similarity");
  });
  onPlotlyEvent(tiles, "plotly_hover", (e) => {
    const p = e.points?.[0];
    if (!p || p.z === null) return;
    const c = cols(), rows = Number(root.querySelector("[data-patch-grid]").dataset.rows) || c;
    drawing.hover(Math.floor(Number(p.y) / (rows + 1)) * c + Math.floor(Number(p.x) / (c + 1)), "tiles");
  });
  for (const [name, node] of Object.entries({ heatmap, similarity, tiles })) {
    onPlotlyEvent(node, "plotly_unhover", () => drawing.hover(null, name));
  }

  // Strategies: one radio per family; the 2D family has a variant select, shown only for it.
  const radios = [...root.querySelectorAll('.strategies input[type="radio"]')];
  const variant = q("[data-variant]");
  const familyOf = (strategy) => strategies.find((c) => c.value === strategy)?.group || strategy;
  const pick = () => {
    const family = radios.find((r) => r.checked)?.value;
    const members = strategies.filter((c) => c.group === family);
    store.set({ strategy: members.length > 1 ? variant.value : members[0].value });
  };
  for (const radio of radios) radio.addEventListener("change", pick);
  variant.addEventListener("change", () => {
    radios.find((r) => r.value === familyOf(variant.value)).checked = true;
    pick();
  });
  const variantField = q("[data-variant-field]");
  const sync = (strategy) => {
    const family = familyOf(strategy);
    for (const r of radios) r.checked = r.value === family;
    if ([...variant.options].some((o) => o.value === strategy)) variant.value = strategy;
    variantField.hidden = !strategies.some((c) => c.group === family && c.value !== family);
    // The selected family's explanation is open beside the heatmap; the one it replaces closes.
    for (const note of root.querySelectorAll("[data-note]")) {
      const current = note.dataset.note === family;
      if (note.classList.contains("current") && !current) note.open = false;
      if (current) note.open = true;
      note.classList.toggle("current", current);
    }
  };
  store.subscribe((s, changed) => { if (changed.has("strategy")) sync(s.strategy); });
  sync(store.get().strategy);
}
