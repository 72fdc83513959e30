// Live preview only (build.py serve injects this script; a normal build never does):
// reload after a good rebuild, show the error over the page after a bad one.

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

events.addEventListener("reload", () => location.reload());
events.addEventListener("failure", (e) => showFailure(JSON.parse(e.data)));
