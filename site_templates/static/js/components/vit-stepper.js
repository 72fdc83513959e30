// The ViT stepper (`vit-stepper`): one store holds its state; the view cache fetches the
// numbers, draw.js shows them, controls.js and the parameter and upload panels change the
// store, and the URL fragment follows it.
import { createStore } from "../state.js";
import * as fragment from "../fragment.js";
import { ViewCache, configKey } from "../stepper/view-cache.js";
import { createDrawing } from "../stepper/draw.js";
import { wireControls } from "../stepper/controls.js";
import { mountParameters } from "../parameters.js";
import { mountUpload } from "../upload.js";

export function mount(root, data, engine) {
  const component = data.schema.components["vit-stepper"];
  const steps = data.schema.steps.map((s) => s.value);
  const strategyOption = component.options.find((o) => o.name === "strategy");
  const strategies = strategyOption.choices.map((c) => c.value);
  const o = data.options;
  const defaults = { step: o.step, strategy: o.strategy, selected: data.view.config.selected,
                     image_size: o.image_size, patch: o.patch, dim: o.dim };
  let anchor = fragment.split(location.hash).anchor;
  const initial = fragment.parse(location.hash, component, data.controls, defaults);
  const store = createStore({ ...initial, seed: o.seed, imageVersion: 0, imageName: null });

  const cache = new ViewCache(data.view, configKey({ ...defaults, seed: o.seed, imageVersion: 0 }), engine, strategies);
  const isDefaultImage = (s) => s.imageVersion === 0 && s.image_size === defaults.image_size;
  const params = mountParameters(root, data, component, store);
  const drawing = createDrawing(root, { steps, cache, engine, isDefaultImage, onView: params.showView });
  wireControls(root, store, { steps, strategies: strategyOption.choices, drawing });
  mountUpload(root, data, engine, store);
  // The credit and the description follow the image shown (the reader's own, or the author's).
  const credit = root.querySelector("[data-image-credit]");
  store.subscribe((s, changed) => {
    if (!changed.has("imageName")) return;
    credit.textContent = s.imageName
      ? `Your image, "${s.imageName}": its centre square, decoded and resized in your browser (it never leaves it).`
      : o.image_credit;
  });

  let touched = fragment.hasState(location.hash, component);
  store.subscribe((s, changed) => {
    if (touched || [...changed].some((k) => k !== "imageVersion" && k !== "imageName")) {
      touched = true;
      history.replaceState(null, "", fragment.serialize(s, component, anchor));
    }
    drawing.render(s, changed).catch((err) => console.warn("pe-stepper:", err.message));
  });
  // A link to a section (the contents, a footnote) keeps the view; a shared link with
  // state changes it, and may still carry a section to scroll to.
  addEventListener("hashchange", () => {
    const next = fragment.split(location.hash);
    anchor = next.anchor;
    if (!fragment.hasState(location.hash, component)) return;
    const s = store.get();
    store.set(fragment.parse(location.hash, component, data.controls,
                             { ...defaults, image_size: s.image_size, patch: s.patch, dim: s.dim }));
    scrollToAnchor(anchor);
  });
  if (anchor && fragment.hasState(location.hash, component)) scrollToAnchor(anchor);

  // Inline actions: a link in the article like [select Sinusoidal](#vit-stepper-0&pe=sinusoidal)
  // sets the view and brings the stepper into view; "Back to where you were reading" returns.
  const back = root.querySelector("[data-return]");
  let returnTo = null;
  document.addEventListener("click", (e) => {
    const link = e.target.closest?.("a[href^='#']");
    if (!link || root.contains(link) || !fragment.hasState(link.getAttribute("href"), component)) return;
    if (fragment.split(link.getAttribute("href")).anchor !== root.id) return;
    e.preventDefault();
    returnTo = link;
    history.pushState(null, "", link.getAttribute("href"));
    const s = store.get();
    store.set(fragment.parse(link.getAttribute("href"), component, data.controls,
                             { ...s, image_size: s.image_size, patch: s.patch, dim: s.dim }));
    back.hidden = false;
    root.scrollIntoView({ block: "start" });
    root.querySelector('[role="tab"][aria-selected="true"]')?.focus({ preventScroll: true });
  });
  back.querySelector("a").addEventListener("click", (e) => {
    e.preventDefault();
    back.hidden = true;
    returnTo?.scrollIntoView({ block: "center" });
    returnTo?.focus({ preventScroll: true });
  });

  // When the worker is live, recompute what is on screen with it.
  engine.ready.then(() => {
    params.enable();
    drawing.render(store.get(), new Set(["strategy"])).catch((err) => console.warn("pe-stepper:", err.message));
  }, () => params.unavailable());

  return drawing.render(store.get(), new Set(["step"])).catch((err) => {
    // The fragment asked for a view only the engine can compute: show the default now.
    console.warn("pe-stepper:", err.message);
    store.set({ image_size: defaults.image_size, patch: defaults.patch, dim: defaults.dim });
    engine.ready.then(() => store.set({ ...initial }), () => {});
  });
}

function scrollToAnchor(anchor) {
  const target = anchor && document.getElementById(anchor);
  if (target) target.scrollIntoView();
}
