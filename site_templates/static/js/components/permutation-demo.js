// Shuffle patches through one seeded attention layer, with and without positional embedding
// (`permutation-demo`; it uses the patches of the stepper before it: `data.needs`).
import * as plots from "../plots.js";

export function mount(root, data, engine) {
  const button = root.querySelector("[data-shuffle]");
  const toggle = root.querySelector("[data-add-pe]");
  const order = root.querySelector("[data-order]");
  const result = root.querySelector("[data-result]");
  const other = root.querySelector("[data-result-other]");
  const plot = root.querySelector(`#${root.id}-bars`);
  let view = data.view, source = "build", shuffle = view.config.shuffle_seed;

  function show() {
    const withPe = toggle.checked;
    const part = withPe ? view.with_pe : view.without_pe;
    order.textContent = view.order.join(", ");
    result.textContent = withPe
      ? `With positional embedding, the largest difference in the [CLS] output after shuffling is ${part.max_diff.toFixed(3)}: the model now sees the new order.`
      : `Without positional embedding, the largest difference in the [CLS] output after shuffling is ${part.max_diff.toExponential(2)}: the same up to rounding.`;
    other.textContent = withPe
      ? `Without it, the difference would be ${view.without_pe.max_diff.toExponential(2)}.`
      : `With the sinusoidal positional embedding it would be ${view.with_pe.max_diff.toFixed(3)}.`;
    return plots.draw(plot, part.figure, source);
  }

  button.addEventListener("click", async () => {
    if (engine.state === "failed") {
      result.textContent = "Shuffling needs the live engine, which could not start. The pre-computed example stays.";
      return;
    }
    if (engine.state !== "ready") {
      result.textContent = "The live engine is still starting; shuffling needs it. Try again in a moment.";
      return;
    }
    shuffle += 1;
    try {
      view = await engine.call("permutation-demo", { shuffle_seed: shuffle, needs: data.needs });
      source = "pyodide";
      await show();
    } catch (err) {
      result.textContent = `Could not shuffle: ${err.message}`;
    }
  });
  toggle.addEventListener("change", show);
  return show();
}
