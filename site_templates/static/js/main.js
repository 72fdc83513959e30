// Entry point, once the article is parsed: reads the build's data and mounts every component
// with the module of its name, components/<name>.js. (boot.js started the worker.)
import { early, urls } from "./boot.js";
import { Engine } from "./engine.js";
import { loadPlotly } from "./plots.js";

document.documentElement.classList.add("js");
// Let the browser paint the article first: everything below is work the reader can wait for.
await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
const data = JSON.parse(document.getElementById("page-data")?.textContent || "{}");
const url = (rel) => new URL(data.root + rel, document.baseURI).href;
const { instances = [], schema } = data.components || {};

// The engine's photograph (the first component that has one) is fetched and decoded while
// the worker boots, and handed to it before "ready".
const pictured = instances.find((c) => c.image);
const photo = pictured
  ? import("./upload.js").then(({ defaultPixels }) => defaultPixels({ ...pictured, imageUrl: url(pictured.image) }))
  : null;
photo?.catch(() => {});

const engine = new Engine(urls);
window.peEngine = engine; // for the end-to-end tests and the curious
engine.start(early);
engine.setPrepare(async (live) => {
  if (pictured) await live.setSource(await photo, pictured.source_size);
});
const plotly = loadPlotly(url(data.assets.plotly));

for (const node of document.querySelectorAll("[data-engine-status]")) {
  engine.onStatus(({ state, text }) => { node.textContent = text; node.dataset.state = state; });
}
plotly.catch((err) => {
  for (const node of document.querySelectorAll(".plot-fallback")) node.textContent = `${err.message}: ${node.textContent}`;
});

for (const instance of instances) {
  const root = document.getElementById(instance.id);
  if (!root) continue;
  import(`./components/${instance.name}.js`)
    .then((module) => module.mount(root, { ...instance, schema, imageUrl: instance.image && url(instance.image) }, engine))
    .catch((err) => console.warn(`pe-${instance.name}:`, err.message));
}
