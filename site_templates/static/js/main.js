// Entry point, once the article is parsed: reads the build's data, loads Plotly without
// blocking the text, and mounts each component on the page. (boot.js started the worker.)
import { early, urls } from "./boot.js";
import { Engine } from "./engine.js";
import { loadPlotly } from "./plots.js";
import { mountStepper } from "./stepper.js";
import { mountResolution } from "./explore/resolution.js";
import { mountPermutation } from "./explore/permutation.js";
import { mountStaticFigures } from "./explore/static-figures.js";

document.documentElement.classList.add("js");
// Let the browser paint the article first: everything below is work the reader can wait for.
await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const data = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
const url = (rel) => new URL(data.root + rel, document.baseURI).href;
const assets = data.assets;

// The stepper's photograph is fetched and decoded while the worker boots, not after.
const stepperData = data.components?.stepper;
const photo = stepperData
  ? import("./upload.js").then(({ defaultPixels }) => defaultPixels({ ...stepperData, imageUrl: url(stepperData.image) }))
  : null;
photo?.catch(() => {});

// boot.js started the worker; the engine takes it over. The photograph goes to it before "ready".
const engine = new Engine(urls);
window.peEngine = engine; // for the end-to-end tests and the curious
engine.start(early);
engine.setPrepare(async (live) => {
  if (!stepperData) return;
  await live.setSource(await photo, stepperData.source_size);
});
const plotly = loadPlotly(url(assets.plotly));

for (const node of document.querySelectorAll("[data-engine-status]")) {
  engine.onStatus(({ state, text }) => { node.textContent = text; node.dataset.state = state; });
}
plotly.catch((err) => {
  for (const node of document.querySelectorAll(".plot-fallback")) node.textContent = `${err.message}: ${node.textContent}`;
});

const components = data.components || {};
if (components.stepper) {
  const root = document.getElementById(components.stepper.id);
  const stepper = { ...components.stepper, presets: components.presets, imageUrl: url(components.stepper.image) };
  mountStepper(root, stepper, engine);
}
const MOUNTS = { "resolution-change": mountResolution, "permutation-demo": mountPermutation,
                 "relative-bias": mountStaticFigures, "rope-shift": mountStaticFigures };
for (const [id, component] of Object.entries(components.components || {})) {
  const root = document.getElementById(id);
  if (root && MOUNTS[component.name]) {
    MOUNTS[component.name](root, component, engine).catch((err) => console.warn(`pe-${component.name}:`, err.message));
  }
}
