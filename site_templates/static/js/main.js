// Entry point, once the article is parsed: reads the build's data and mounts every component
// with the module of its name, components/<name>.js. (start.js started the worker.)
import { early, urls } from "./boot.js";
import { Engine } from "./engine.js";
import * as plots from "./plots.js";

document.documentElement.classList.add("js");
// Let the browser paint the article first: everything below is work the reader can wait for.
await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const data = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
const url = (rel) => new URL(data.root + rel, document.baseURI).href;
const { instances = [], schema } = data.components || {};

// Figures are drawn on canvases from their figure dicts until Plotly is needed (plots.js):
// it loads once the live engine has drawn and the reader leaves the page alone for a moment,
// at once when the reader points at or focuses a component, or after an engine failure.
plots.configure({ plotly: url(data.assets.plotly), scales: data.assets.colorscales });
for (const type of ["pointerover", "focusin"]) {
  addEventListener(type, (e) => { if (e.target.closest?.(".component")) plots.loadPlotly(); }, { passive: true, capture: true });
}

const engine = new Engine(urls);
window.peEngine = engine; // for the end-to-end tests and the curious
engine.start(early);
// The worker decodes the photograph itself (see worker.js); only when it could not does the
// page decode and send it, with the build's default-size model input.
const pictured = instances.find((c) => c.image);
engine.setPrepare(async (live) => {
  if (!pictured || live.sourceReady) return;
  const { defaultPixels } = await import("./upload.js");
  const photo = await defaultPixels({ ...pictured, imageUrl: url(pictured.image) });
  const input = pictured.input
    ? await defaultPixels({ imageUrl: url(pictured.input), source_size: pictured.options.image_size }).catch(() => null)
    : null;
  await live.setSource(photo, pictured.source_size, input, input ? pictured.options.image_size : 0);
});
engine.ready.catch(() => plots.loadPlotlyWhenIdle());

const READER_STATUS = {
  loading: "Getting the interactive figures ready; until then they show numbers computed when the page was built.",
  ready: "Interactive: change anything below.",
};
for (const node of document.querySelectorAll("[data-engine-status]")) {
  engine.onStatus(({ state, text, forReader }) => {
    // The line speaks to readers; the engine's own account of what it is doing is its tooltip.
    node.textContent = forReader ? text : READER_STATUS[state] ?? text;
    node.title = forReader ? "" : text;
    node.dataset.state = state;
  });
}
plots.onPlotlyFailed((err) => {
  for (const node of document.querySelectorAll(".plot-fallback")) node.textContent = `${err.message}: ${node.textContent}`;
});

// One component per task, in page order: mounting them all at once was one 40-100 ms task.
const nextTask = () => (globalThis.scheduler?.yield ? scheduler.yield() : new Promise((r) => setTimeout(r, 0)));
const modules = instances.map((instance) => import(`./components/${instance.name}.js`));
modules.forEach((m) => m.catch(() => {}));
for (const [i, instance] of instances.entries()) {
  const root = document.getElementById(instance.id);
  if (!root) continue;
  try {
    const module = await modules[i];
    await nextTask();
    module.mount(root, { ...instance, schema, imageUrl: instance.image && url(instance.image) }, engine)
      ?.catch?.((err) => console.warn(`pe-${instance.name}:`, err.message));
  } catch (err) {
    console.warn(`pe-${instance.name}:`, err.message);
  }
}
