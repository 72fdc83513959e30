// Live preview only: build.py serve adds this script to each page as it serves it (the
// built files never contain it). After a prose edit the new article text is patched into
// the open page, keeping the live components as they are; after anything else the page
// reloads. A failed build shows its error over the page. Every event names the build now
// served: a page that missed one (it loaded just before a rebuild) reloads.

let build = document.querySelector("script[data-build]")?.dataset.build;
const events = new EventSource("/__live/events");
let overlay = null;

function showFailure(report) {
  overlay?.remove();
  overlay = document.createElement("div");
  overlay.className = "build-error-overlay";
  overlay.setAttribute("role", "alert");
  const title = document.createElement("h2");
  title.textContent = "Build failed: the page shows the last good build";
  const pre = document.createElement("pre");
  pre.textContent = report;
  const hint = document.createElement("p");
  hint.textContent = "Fix the file and save: this page reloads by itself.";
  overlay.append(title, pre, hint);
  document.body.append(overlay);
}

const componentsOf = (root) => [...root.querySelectorAll("[data-component]")];
const signature = (root) => componentsOf(root).map((node) => node.id).join(" ");

// Swaps in the new prose if the components (and the data they run on) are unchanged.
async function patchProse() {
  const response = await fetch(location.href, { cache: "no-store" });
  if (!response.ok) return false;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const prose = document.querySelector(".prose"), next = fresh.querySelector(".prose");
  if (!prose || !next || signature(prose) !== signature(next)) return false;
  if (document.getElementById("page-data")?.textContent !== fresh.getElementById("page-data")?.textContent) return false;
  const live = new Map(componentsOf(prose).map((node) => [node.id, node]));
  for (const node of componentsOf(next)) node.replaceWith(live.get(node.id));
  prose.replaceChildren(...next.childNodes);
  for (const selector of [".article-header", ".toc"]) {
    const old = document.querySelector(selector), neu = fresh.querySelector(selector);
    if (old && neu) old.replaceWith(neu);
  }
  document.title = fresh.title;
  return true;
}

events.addEventListener("hello", (event) => {
  if (JSON.parse(event.data) !== build) location.reload();
});
events.addEventListener("reload", async (event) => {
  const { build: next, data: kind } = JSON.parse(event.data);
  if (kind === "content") {
    try {
      if (await patchProse()) { build = next; return; }
    } catch (err) {
      console.warn("live reload: patching failed, reloading", err);
    }
  }
  location.reload();
});
events.addEventListener("failure", (event) => {
  const message = JSON.parse(event.data);
  showFailure(typeof message === "string" ? message : message.data);
});
