#!/usr/bin/env python3
"""Page benchmark (issues 6 and 13): the article's cold load against a stock Pyodide boot,
the runtime held back on a slow connection, and Lighthouse.

    .venv/bin/python tests/bench/bench_page.py [--runs 7] [--lighthouse-runs 3] [--json out.json]

What it does, in one run:

1. Builds the site when dist/ is missing (always with --build), then times a full rebuild
   with everything cached: ``build.py build`` twice, the second one's wall time is reported.
2. Serves a frozen copy of dist/ on 127.0.0.1 (threaded http.server, .wasm as
   application/wasm, .mjs as text/javascript, no compression) plus the bench's own
   /__bench/stock.html and /__bench/stock.js; and, where nginx is installed, the same copy
   with the site's own nginx snippet (_nginx.conf: precompressed brotli/gzip siblings), as a
   real host would serve it.
3. N times, alternating, each in a fresh browser context (empty HTTP cache), on http.server:
   (a) stock: a page that calls ``loadPyodide({indexURL})`` on the MAIN thread from the same
       vendored files, unpacks the same engine archive and calls
       ``pe_engine.sinusoidal_1d(17, 8)``; time = navigation start -> that call's result.
   (b) the article (dist/index.html): FCP, LCP, TBT, CLS, time to ready, interaction latency
       at the default size and at ViT-B/16, bytes by type.
4. The slow-connection case, on nginx: DevTools network emulation of a 3G-class line
   (THROTTLE: 300 ms round trip, 1.6 Mbit/s down), the article with its own rule (the
   runtime waits for the load event) and forced to boot at once (navigator.connection says
   4g): FCP, LCP, the load event and when the first runtime request started.
5. Lighthouse 12.2.3 (node_modules, pinned in package.json) with the system Chromium,
   mobile and desktop presets (simulated throttling), on nginx: Performance score, LCP, FCP,
   TBT, CLS, Speed Index; the median run of each preset by score.
6. Prints one Markdown table of medians with the targets and pass/fail, and exits 0 (it
   reports, it does not assert).

Definitions used (lab, not field):
- ready: navigation start -> the first moment (MutationObserver, in the page) when
  ``[data-engine-status]`` has data-state="ready" AND a ``.plot`` has data-source="pyodide".
  The ratio is the median of the per-run ratios ready(b)/ready(a) (a and b of one run are
  loaded back to back); the ratio of the medians is printed too.
- TBT: over the page's main-thread long tasks (PerformanceObserver "longtask"), the sum of
  (clipped duration - 50 ms), each task clipped to the window [FCP, ready] — the Lighthouse
  formula with TTI replaced by "ready" (this page's interactive point). The worker's tasks are
  not main-thread tasks and do not count.
- CLS: sum of layout-shift values without recent input with startTime <= ready + 1 s (the plain
  sum, which is >= the largest session window that web-vitals reports).
- interaction: once the reader has pointed at the heatmap and Plotly has taken it over (until
  then the figures are canvases, plots.js), a real mouse click on a strategy radio
  ("Learned (ViT)", "Sinusoidal", "2D-Aware", in rotation); latency = click event.timeStamp ->
  Plotly's ``plotly_afterplot`` on #vit-stepper-0-heatmap after which the heatmap's first
  trace z differs from the one at the click (both on the page's performance.now() clock).
  p50/p95 per load; the table shows the median over loads (the pooled percentiles over all
  clicks are in the JSON).
- bytes: Playwright's request.sizes() (response headers + body as received; http.server does not
  compress, so this is the raw size). "own gz" is the gzip -9 size of each of the site's own
  HTML, CSS, JS and engine archive files in dist/ that the article requested.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUILD = ROOT / "build.py"
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import CHROMIUM, CHROMIUM_ARGS, QuietHandler, StaticServer  # noqa: E402  (one server for tests and bench)
READY_TIMEOUT_S = 90
CLICK_TIMEOUT_S = 20
STRATEGIES = ["Learned (ViT)", "Sinusoidal", "2D-Aware"]
HEATMAP = "vit-stepper-0-heatmap"
LIGHTHOUSE = ROOT / "node_modules" / "lighthouse" / "cli" / "index.js"
# A 3G-class line for DevTools network emulation: Chromium's effective type is then "3g".
THROTTLE = {"offline": False, "latency": 300, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
RUNTIME_FILE = re.compile(r"(pyodide\.asm\.wasm|python_stdlib\.zip|snapshot-[0-9a-f]+\.bin\.gz|pyodide\.asm\.mjs)$")

TARGETS = {  # key: (label, limit, how); "≥" targets are met from above
    "ready_ratio": ("ready(b) / ready(a)", 0.35, "≤ 0.35"),
    "fcp": ("FCP (ms)", 250, "≤ 250 ms"),
    "tbt": ("TBT, FCP→ready (ms)", 50, "≤ 50 ms"),
    "cls": ("CLS, to ready + 1 s", 0.01, "≤ 0.01"),
    "ix_default_p95": ("interaction p95, default (ms)", 60, "≤ 60 ms"),
    "ix_b16_p95": ("interaction p95, ViT-B/16 (ms)", 150, "≤ 150 ms"),
    "lh_mobile_perf": ("Lighthouse Performance, mobile", 90, "≥ 90"),
    "lh_desktop_perf": ("Lighthouse Performance, desktop", 98, "≥ 98"),
    "lh_mobile_lcp": ("Lighthouse LCP, mobile (ms)", 2500, "≤ 2.5 s"),
    "own_gz_kb": ("own HTML+CSS+JS+engine, gzip (KB)", 100, "≤ 100 KB"),
    "rebuild_s": ("cached rebuild (s)", 2.0, "≤ 2 s"),
}


# --------------------------------------------------------------------------- the stock page

STOCK_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stock Pyodide boot</title>
<script type="module" src="/__bench/stock.js"></script></head>
<body><p id="out">booting…</p></body></html>
"""

STOCK_JS = """// Stock boot: loadPyodide on the main thread, the engine archive, one engine call.
import { loadPyodide } from "%(index)spyodide.mjs";
const marks = {};
const mark = (name) => { marks[name] = performance.now(); };
try {
  mark("start");
  const zip = fetch("%(engine)s").then((r) => r.arrayBuffer());
  const pyodide = await loadPyodide({ indexURL: "%(index)s" });
  mark("loadPyodide");
  pyodide.unpackArchive(new Uint8Array(await zip), "zip", { extractDir: "/home/pyodide/engine" });
  mark("unpack");
  pyodide.runPython("import sys; sys.path.insert(0, '/home/pyodide/engine'); import pe_engine");
  mark("import");
  const rows = pyodide.runPython("import json; json.dumps(pe_engine.sinusoidal_1d(17, 8))");
  mark("call");
  window.__stock = { ready: marks.call, marks, rows: JSON.parse(rows).length };
  document.getElementById("out").textContent = `ready ${Math.round(marks.call)} ms`;
} catch (err) {
  window.__stock = { error: String(err && err.message || err) };
}
"""

# --------------------------------------------------------------------------- in-page probes

INIT_SCRIPT = r"""
(() => {
  const B = window.__bench = { fcp: null, lcp: null, longtasks: [], shifts: [], ready: null,
                               statusReadyAt: null, pyodidePlotAt: null };
  const obs = (type, fn) => {
    try { new PerformanceObserver((list) => list.getEntries().forEach(fn)).observe({ type, buffered: true }); }
    catch (e) { B["no_" + type] = String(e); }
  };
  obs("paint", (e) => { if (e.name === "first-contentful-paint") B.fcp = e.startTime; });
  obs("largest-contentful-paint", (e) => { B.lcp = e.renderTime || e.loadTime || e.startTime; B.lcpEl = e.element ? e.element.tagName + (e.element.id ? "#" + e.element.id : "") + (e.element.className ? "." + String(e.element.className).split(" ")[0] : "") : null; });
  obs("longtask", (e) => B.longtasks.push({ start: e.startTime, duration: e.duration }));
  obs("layout-shift", (e) => B.shifts.push({ t: e.startTime, value: e.value, input: e.hadRecentInput }));
  const check = () => {
    if (B.ready !== null) return;
    const status = document.querySelector("[data-engine-status]");
    const statusReady = status && status.getAttribute("data-state") === "ready";
    const plot = document.querySelector('.plot[data-source="pyodide"]');
    const now = performance.now();
    if (statusReady && B.statusReadyAt === null) B.statusReadyAt = now;
    if (plot && B.pyodidePlotAt === null) B.pyodidePlotAt = now;
    if (statusReady && plot) B.ready = now;
  };
  B.phases = [];
  const phases = () => {
    const status = document.querySelector("[data-engine-status]");
    const text = status && status.textContent;
    if (text && (!B.phases.length || B.phases[B.phases.length - 1].text !== text)) B.phases.push({ t: performance.now(), text });
  };
  new MutationObserver(phases).observe(document, { subtree: true, childList: true, characterData: true });
  new MutationObserver(check).observe(document, { subtree: true, attributes: true, childList: true,
                                                   attributeFilter: ["data-state", "data-source"] });
})();
"""

INTERACTION_PROBE = r"""
(id) => {
  const el = document.getElementById(id);
  const sig = () => {
    const z = el.data && el.data[0] && el.data[0].z;
    if (!z) return "none";
    const row = z[Math.min(1, z.length - 1)] || [];
    return z.length + ":" + row.length + ":" + row.slice(0, 4).join(",") + ":" + (row[row.length - 1]);
  };
  const X = window.__ix = { pending: null, done: [], frames: [], plots: 0 };
  document.addEventListener("click", (e) => {
    if (e.target && e.target.matches && e.target.matches('input[type="radio"]')) {
      X.pending = { t0: e.timeStamp, z: el.data && el.data[0] && el.data[0].z, sig: sig() };
    }
  }, true);
  el.on("plotly_afterplot", () => {
    X.plots++;
    const p = X.pending;
    if (!p) return;
    const z = el.data && el.data[0] && el.data[0].z;
    if (z !== p.z || sig() !== p.sig) {
      const t = performance.now();
      X.pending = null;
      X.done.push(t - p.t0);
      // and to the next frame after it (≈ the paint that shows it)
      requestAnimationFrame(() => setTimeout(() => X.frames.push(performance.now() - p.t0), 0));
    }
  });
  return sig();
}
"""


# --------------------------------------------------------------------------- server

def make_handler(extra: dict[str, tuple[bytes, str]]):
    """The site's files, plus the benchmark's own pages at fixed paths."""
    class Handler(QuietHandler):
        def send_head(self):
            path = urlparse(self.path).path
            if path in extra:
                body, ctype = extra[path]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                return io.BytesIO(body)
            return super().send_head()

    return Handler


# --------------------------------------------------------------------------- helpers

def run_build() -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BUILD), "build"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"build.py build failed (exit {proc.returncode})")
    out = (proc.stdout + proc.stderr).strip()
    if "another build is running" in out:
        print(f"  note: waited for another build: {out.splitlines()[0]}", file=sys.stderr)
    return wall, out


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def category(url: str) -> str:
    path = urlparse(url).path.lower()
    name = path.rsplit("/", 1)[-1]
    if "snapshot" in name:
        return "snapshot"
    if path.endswith((".html", ".htm")) or path.endswith("/"):
        return "html"
    if path.endswith(".css"):
        return "css"
    if path.endswith((".js", ".mjs")):
        return "js"
    if path.endswith(".wasm"):
        return "wasm"
    if path.endswith(".zip"):
        return "zip/engine"
    if path.endswith(".json"):
        return "json"
    if path.endswith((".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif", ".ico")):
        return "image"
    return "other"


BYTE_TYPES = ["html", "css", "js", "wasm", "snapshot", "zip/engine", "json", "image", "other"]


class NetLog:
    """Every finished request of a context (workers included), with its sizes."""

    def __init__(self, context):
        self.requests = []
        self.failed = []
        context.on("requestfinished", lambda r: self.requests.append(r))
        context.on("requestfailed", lambda r: self.failed.append(r.url))

    def summary(self):
        by_type = {t: 0 for t in BYTE_TYPES}
        files = []
        seen = set()
        for req in self.requests:
            if req.url.startswith(("data:", "blob:")):
                continue
            try:
                sizes = req.sizes()
                n = sizes["responseBodySize"] + sizes["responseHeadersSize"]
                if sizes["responseBodySize"] == 0 and req.url not in seen and req.method == "GET":
                    # Chromium reports no body size for a worker's own script: count its body
                    response = req.response()
                    if response is not None and response.status == 200:
                        n += len(response.body())
            except Exception:
                n = 0
            seen.add(req.url)
            by_type[category(req.url)] += n
            files.append({"url": urlparse(req.url).path, "method": req.method, "bytes": n})
        return by_type, files


def launch(pw, headless=True):
    kwargs = {"headless": headless, "args": CHROMIUM_ARGS}
    if os.path.exists(CHROMIUM):
        kwargs["executable_path"] = CHROMIUM
    return pw.chromium.launch(**kwargs)


def wait_for(page, expr: str, timeout_s: float, interval_s: float = 0.05):
    """Polls page.evaluate(expr) until truthy (the CSP blocks wait_for_function strings)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval_s)


# --------------------------------------------------------------------------- (a) stock

def run_stock(browser, base: str) -> dict:
    context = browser.new_context()
    net = NetLog(context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(base + "__bench/stock.html")
        result = wait_for(page, "window.__stock || null", READY_TIMEOUT_S)
        if not result:
            return {"error": "stock page did not finish", "page_errors": errors}
        if "error" in result:
            return {"error": result["error"]}
        by_type, files = net.summary()
        return {"ready": result["ready"], "marks": result["marks"], "bytes": by_type,
                "bytes_total": sum(by_type.values()), "files": files}
    finally:
        context.close()


# --------------------------------------------------------------------------- (b) article

def click_rotation(page, clicks: int) -> dict:
    """Clicks the strategy radios in rotation; returns the latencies (ms)."""
    radios = {name: page.get_by_role("radiogroup", name="Positional embedding").get_by_role("radio", name=name, exact=True)
              for name in STRATEGIES}
    checked = next((n for n, r in radios.items() if r.is_checked()), STRATEGIES[0])
    order = STRATEGIES[STRATEGIES.index(checked) + 1:] + STRATEGIES[:STRATEGIES.index(checked) + 1]
    timeouts = 0
    for i in range(clicks):
        name = order[i % len(order)]
        before = page.evaluate("window.__ix.done.length")
        radios[name].click()
        ok = wait_for(page, f"window.__ix.done.length > {before}", CLICK_TIMEOUT_S, 0.01)
        if not ok:
            timeouts += 1
            page.evaluate("window.__ix.pending = null")
        time.sleep(0.15)  # let the frame settle before the next click
    ix = page.evaluate("({done: window.__ix.done, frames: window.__ix.frames})")
    return {"latencies": ix["done"], "to_next_frame": ix["frames"], "timeouts": timeouts}


def run_article(browser, base: str, clicks: int, trace_path: str | None = None) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(INIT_SCRIPT)
    net = NetLog(context)
    page = context.new_page()
    errors, console = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    if trace_path:
        context.tracing.start(screenshots=False, snapshots=False)
    try:
        page.goto(base + "index.html")
        ready = wait_for(page, "window.__bench.ready", READY_TIMEOUT_S, 0.05)
        if not ready:
            status = page.evaluate("document.querySelector('[data-engine-status]')?.textContent")
            return {"error": f"not ready after {READY_TIMEOUT_S} s (status: {status})", "console": console, "page_errors": errors}
        time.sleep(1.0)  # the CLS window: ready + 1 s
        b = page.evaluate("window.__bench")
        by_type, files = net.summary()
        fcp = b["fcp"]
        tbt = 0.0
        for t in b["longtasks"]:
            s, e = max(t["start"], fcp), min(t["start"] + t["duration"], ready)
            if e - s > 50:
                tbt += e - s - 50
        cls = sum(s["value"] for s in b["shifts"] if not s["input"] and s["t"] <= ready + 1000)
        boot = page.evaluate("({ timeline: window.peEngine.timeline, booted: window.peBoot && window.peBoot.early.booted,"
                             " plotly: typeof window.Plotly })")
        out = {
            "fcp": fcp, "lcp": b["lcp"], "lcp_element": b.get("lcpEl"), "ready": ready,
            "engine_timeline": boot["timeline"], "booted": boot["booted"], "plotly_at_ready": boot["plotly"] != "undefined",
            "status_ready_at": b["statusReadyAt"], "pyodide_plot_at": b["pyodidePlotAt"],
            "tbt": tbt, "cls": cls, "longtasks": b["longtasks"], "shifts": b["shifts"],
            "bytes": by_type, "bytes_total": sum(by_type.values()), "files": files,
            "status_text": page.evaluate("document.querySelector('[data-engine-status]').textContent"),
            "phases": b.get("phases", []),
        }
        if trace_path:
            context.tracing.stop(path=trace_path)
            trace_path = None
        if clicks:
            # The reader points at the heatmap: Plotly loads and takes the figures over
            # (until then they are canvases). The probe listens to Plotly's own events.
            t_point = time.monotonic()
            page.locator(f"#{HEATMAP}").scroll_into_view_if_needed()
            page.locator(f"#{HEATMAP}").hover()
            owned = wait_for(page, f"(() => {{ const el = document.getElementById('{HEATMAP}');"
                                   f" return typeof el.on === 'function' && el.dataset.busy !== 'true' }})()", 60, 0.02)
            out["plotly_takeover_s"] = time.monotonic() - t_point if owned else None
            time.sleep(0.5)
            page.evaluate(INTERACTION_PROBE, HEATMAP)
            out["ix_default"] = click_rotation(page, clicks)
            # ViT-B/16: open the parameters, pick the preset, wait for 197 rows
            page.get_by_text("Change the sizes, or use your own image").click()
            page.get_by_label("Model preset").select_option("ViT-B/16")
            rows = wait_for(page, f"(document.getElementById('{HEATMAP}').data?.[0]?.z?.length === 197"
                                  f" && document.getElementById('{HEATMAP}').dataset.busy !== 'true') || null",
                            60, 0.05)
            if not rows:
                out["ix_b16"] = {"error": "the heatmap never reached 197 rows"}
            else:
                time.sleep(0.3)
                page.evaluate("window.__ix.done = []; window.__ix.frames = []; window.__ix.pending = null")
                out["ix_b16"] = click_rotation(page, clicks)
        out["console"], out["page_errors"] = console, errors
        return out
    finally:
        if trace_path:
            context.tracing.stop(path=trace_path)
        context.close()


# --------------------------------------------------------------------------- slow connection

FORCE_FAST = """
  Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => ({
    effectiveType: '4g', downlink: 10, rtt: 50, saveData: false, addEventListener() {}, removeEventListener() {} }) });
"""


def run_throttled(browser, base: str, mode: str) -> dict:
    """One cold load under THROTTLE: mode "rule" (the page's own rule) or "eager" (boot at once)."""
    context = browser.new_context(viewport={"width": 412, "height": 823}, is_mobile=True, device_scale_factor=2)
    context.add_init_script(INIT_SCRIPT)
    if mode == "eager":
        context.add_init_script(FORCE_FAST)
    requests = []
    context.on("request", lambda r: requests.append(r))
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THROTTLE)
        page.goto(base + "index.html", wait_until="load", timeout=120_000)
        time.sleep(1.0)
        nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            return { origin: performance.timeOrigin, load: n.loadEventStart, dcl: n.domContentLoadedEventStart }; }""")
        b = page.evaluate("window.__bench")
        status = page.evaluate("document.querySelector('[data-engine-status]').textContent")
        starts = []
        for r in requests:
            if RUNTIME_FILE.search(r.url):
                try:
                    starts.append(r.timing["startTime"] - nav["origin"])
                except Exception:
                    pass
        booted = page.evaluate("window.peBoot && window.peBoot.early.booted")
        return {"mode": mode, "fcp": b["fcp"], "lcp": b["lcp"], "load": nav["load"], "dcl": nav["dcl"],
                "runtime_first": min(starts) if starts else None, "booted": booted,
                "hold": page.evaluate("window.peBoot && window.peBoot.early.hold"), "status": status}
    finally:
        context.close()


# --------------------------------------------------------------------------- Lighthouse

def run_lighthouse(url: str, preset: str, out_dir: Path, i: int) -> dict:
    """Lighthouse 12.2.3 from node_modules with the system Chromium; mobile is its default."""
    if not LIGHTHOUSE.is_file():
        return {"error": f"{LIGHTHOUSE} is missing: npm ci"}
    out = out_dir / f"lighthouse-{preset}-{i}.json"
    flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    cmd = ["node", str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
           "--only-categories=performance", f"--chrome-flags={flags}", "--max-wait-for-load=60000"]
    if preset == "desktop":
        cmd.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": CHROMIUM if os.path.exists(CHROMIUM) else ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0 or not out.is_file():
        return {"error": (proc.stderr or proc.stdout)[-600:]}
    report = json.loads(out.read_text())
    audits = report["audits"]
    value = lambda key: audits.get(key, {}).get("numericValue")  # noqa: E731
    lcp_el = audits.get("largest-contentful-paint-element", {}).get("details", {})
    try:
        node = lcp_el["items"][0]["items"][0]["node"]
        lcp_element = node.get("selector") or node.get("snippet")
    except (KeyError, IndexError, TypeError):
        lcp_element = None
    return {"preset": preset, "score": round(report["categories"]["performance"]["score"] * 100),
            "lcp": value("largest-contentful-paint"), "fcp": value("first-contentful-paint"),
            "tbt": value("total-blocking-time"), "cls": value("cumulative-layout-shift"),
            "si": value("speed-index"), "tti": value("interactive"), "lcp_element": lcp_element,
            "json": str(out)}


def median_run(runs: list[dict]) -> dict | None:
    ok = sorted((r for r in runs if "error" not in r), key=lambda r: r["score"])
    return ok[len(ok) // 2] if ok else None


# --------------------------------------------------------------------------- own bytes

def own_files(dist: Path) -> list[Path]:
    """The site's own HTML, CSS, JS and engine archive (no vendor/, snapshot, images)."""
    files = sorted(dist.glob("*.html"))
    files += sorted(p for p in (dist / "assets").rglob("*") if p.is_file() and p.suffix in (".css", ".js", ".mjs"))
    files += sorted((dist / "assets").glob("pe_engine-*.zip"))
    return files


def gz_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def own_bytes_report(dist: Path, requested: set[str]) -> dict:
    rows = []
    for p in own_files(dist):
        rel = "/" + p.relative_to(dist).as_posix()
        rows.append({"file": rel, "raw": p.stat().st_size, "gz": gz_size(p), "requested": rel in requested})
    return {"files": rows,
            "article_gz": sum(r["gz"] for r in rows if r["requested"]),
            "all_gz": sum(r["gz"] for r in rows)}


# --------------------------------------------------------------------------- report

def fmt(v, unit="", digits=0):
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}{unit}"
    return f"{v:,.{digits}f}{unit}"


def kb(n):
    return "—" if n is None else f"{n / 1024:,.1f} KB" if n < 1 << 20 else f"{n / 1048576:,.2f} MB"


def verdict(key, value):
    if value is None:
        return "n/a"
    label, limit, how = TARGETS[key]
    ok = value >= limit if how.startswith("≥") else value <= limit
    return "pass" if ok else "**miss**"


def summarise(stock_runs, article_runs, own, rebuild_s, throttled=(), lighthouse=None) -> tuple[dict, str]:
    ok_a = [r for r in stock_runs if "error" not in r]
    ok_b = [r for r in article_runs if "error" not in r]
    m = {}
    m["stock_ready"] = median([r["ready"] for r in ok_a])
    m["ready"] = median([r["ready"] for r in ok_b])
    # Per run: the stock load and the article load right after it.
    m["ratios"] = [b["ready"] / a["ready"] for a, b in zip(stock_runs, article_runs) if "error" not in a and "error" not in b]
    m["ready_ratio"] = median(m["ratios"])
    m["ratio_of_medians"] = m["ready"] / m["stock_ready"] if m["ready"] and m["stock_ready"] else None
    for key in ("fcp", "lcp", "tbt", "cls", "status_ready_at", "pyodide_plot_at"):
        m[key] = median([r[key] for r in ok_b])
    for size in ("default", "b16"):
        per = [r.get(f"ix_{size}", {}) for r in ok_b]
        per = [p for p in per if p.get("latencies")]
        m[f"ix_{size}_p50"] = median([percentile(p["latencies"], 50) for p in per])
        m[f"ix_{size}_p95"] = median([percentile(p["latencies"], 95) for p in per])
        pooled = [x for p in per for x in p["latencies"]]
        m[f"ix_{size}_pooled"] = {"n": len(pooled), "p50": percentile(pooled, 50), "p95": percentile(pooled, 95),
                                  "max": max(pooled) if pooled else None,
                                  "timeouts": sum(p.get("timeouts", 0) for p in per)}
        frames = [x for p in per for x in p["to_next_frame"]]
        m[f"ix_{size}_frame_pooled"] = {"p50": percentile(frames, 50), "p95": percentile(frames, 95)}
    m["bytes_a"] = {t: median([r["bytes"][t] for r in ok_a]) for t in BYTE_TYPES}
    m["bytes_b"] = {t: median([r["bytes"][t] for r in ok_b]) for t in BYTE_TYPES}
    m["bytes_a_total"] = median([r["bytes_total"] for r in ok_a])
    m["bytes_b_total"] = median([r["bytes_total"] for r in ok_b])
    m["own_gz_kb"] = own["article_gz"] / 1024
    m["rebuild_s"] = rebuild_s

    L = []
    L.append(f"### Page benchmark — medians of {len(ok_b)} article / {len(ok_a)} stock cold loads"
             f" (fresh context each, alternating)\n")
    L.append("| metric | (a) stock main-thread boot | (b) article | target | result |")
    L.append("|---|---:|---:|---|---|")
    L.append(f"| ready: navigation → engine result (ms) | {fmt(m['stock_ready'])} | {fmt(m['ready'])} | | |")
    L.append(f"| ready(b) / ready(a), median of per-run ratios | | {fmt(m['ready_ratio'], digits=3)} | ≤ 0.35 | {verdict('ready_ratio', m['ready_ratio'])} |")
    L.append(f"| … ratio of the medians | | {fmt(m['ratio_of_medians'], digits=3)} | (info) | |")
    L.append(f"| FCP (ms) | | {fmt(m['fcp'])} | ≤ 250 ms | {verdict('fcp', m['fcp'])} |")
    L.append(f"| LCP (ms) | | {fmt(m['lcp'])} | (info) | |")
    L.append(f"| TBT, long tasks clipped to FCP→ready (ms) | | {fmt(m['tbt'])} | ≤ 50 ms | {verdict('tbt', m['tbt'])} |")
    L.append(f"| CLS, to ready + 1 s | | {fmt(m['cls'], digits=4)} | ≤ 0.01 | {verdict('cls', m['cls'])} |")
    for size, label, key in (("default", "default size", "ix_default_p95"), ("b16", "ViT-B/16", "ix_b16_p95")):
        L.append(f"| interaction p50, {label} (ms) | | {fmt(m[f'ix_{size}_p50'])} | (info) | |")
        L.append(f"| interaction p95, {label} (ms) | | {fmt(m[key])} | {TARGETS[key][2]} | {verdict(key, m[key])} |")
    for t in BYTE_TYPES:
        if m["bytes_a"][t] or m["bytes_b"][t]:
            L.append(f"| bytes: {t} | {kb(m['bytes_a'][t])} | {kb(m['bytes_b'][t])} | | |")
    L.append(f"| bytes: total transferred | {kb(m['bytes_a_total'])} | {kb(m['bytes_b_total'])} | | |")
    lh = lighthouse or {}
    for preset in ("mobile", "desktop"):
        run = median_run(lh.get(preset, []))
        m[f"lh_{preset}"] = run
        m[f"lh_{preset}_perf"] = run and run["score"]
        m[f"lh_{preset}_lcp"] = run and run["lcp"]
        scores = sorted(r["score"] for r in lh.get(preset, []) if "error" not in r)
        if run:
            L.append(f"| Lighthouse Performance, {preset} (median of {len(scores)}: {', '.join(map(str, scores))}) | | {run['score']} |"
                     f" {TARGETS[f'lh_{preset}_perf'][2]} | {verdict(f'lh_{preset}_perf', run['score'])} |")
            lcp_target = f"{TARGETS['lh_mobile_lcp'][2]} | {verdict('lh_mobile_lcp', run['lcp'])}" if preset == "mobile" else "(info) |"
            L.append(f"| Lighthouse LCP, {preset}, simulated (ms) | | {fmt(run['lcp'])} | {lcp_target} |")
            L.append(f"| Lighthouse FCP / TBT / CLS / SI, {preset} | | {fmt(run['fcp'])} / {fmt(run['tbt'])} /"
                     f" {fmt(run['cls'], digits=3)} / {fmt(run['si'])} | (info) | |")
        elif lh.get(preset):
            L.append(f"| Lighthouse, {preset} | | error: {lh[preset][0].get('error', '')[:80]!r} | | |")
    L.append(f"| own HTML+CSS+JS+engine, gzip -9 (KB) | | {fmt(m['own_gz_kb'], digits=1)} | ≤ 100 KB | {verdict('own_gz_kb', m['own_gz_kb'])} |")
    L.append(f"| cached rebuild, 2nd `build.py build` (s) | | {fmt(rebuild_s, digits=2)} | ≤ 2 s | {verdict('rebuild_s', rebuild_s)} |")
    L.append("")
    L.append(f"per-run ready ratios: {', '.join(f'{r:.3f}' for r in m['ratios'])}; median {fmt(m['ready_ratio'], digits=3)}"
             f" (ratio of medians {fmt(m['ready'])} / {fmt(m['stock_ready'])} = {fmt(m['ratio_of_medians'], digits=3)})")
    takeover = median([r.get("plotly_takeover_s") for r in ok_b])
    L.append(f"Plotly at ready in {sum(r.get('plotly_at_ready', False) for r in ok_b)} of {len(ok_b)} loads; pointing at the"
             f" heatmap → Plotly owns it: median {fmt(takeover and takeover * 1000)} ms")
    if throttled:
        L.append("")
        L.append(f"Slow connection (DevTools emulation: {THROTTLE['latency']} ms round trip,"
                 f" {THROTTLE['downloadThroughput'] * 8 / 1e6:.1f} Mbit/s; nginx with the site's snippet; 412×823 phone),"
                 " medians (ms from navigation):")
        L.append("")
        L.append("| mode | loads | FCP | LCP | load event | first runtime request | status while held |")
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for mode, label in (("rule", "the page's rule (slow: after load)"), ("eager", "forced to boot at once")):
            runs = [r for r in throttled if r.get("mode") == mode and "error" not in r]
            if not runs:
                continue
            m[f"slow_{mode}"] = {k: median([r[k] for r in runs]) for k in ("fcp", "lcp", "load", "runtime_first")}
            st = runs[0]["status"][:70] + "…" if mode == "rule" else ""
            x = m[f"slow_{mode}"]
            L.append(f"| {label} | {len(runs)} | {fmt(x['fcp'])} | {fmt(x['lcp'])} | {fmt(x['load'])} | {fmt(x['runtime_first'])} | {st} |")
    L.append(f"article phases (median ms from navigation): status ready {fmt(m['status_ready_at'])},"
             f" first pyodide plot {fmt(m['pyodide_plot_at'])}")
    names = []
    for r in ok_b:
        for ph in r.get("phases", []):
            key = re.sub(r"\s*\(.*", "", ph["text"]).strip()
            if key not in names:
                names.append(key)
    m["phases"] = {k: median([next((ph["t"] for ph in r.get("phases", [])
                                    if re.sub(r"\s*\(.*", "", ph["text"]).strip() == k), None) for r in ok_b])
                   for k in names}
    L.append("engine status shown at (median ms): " + "; ".join(f"\"{k}\" {fmt(v)}" for k, v in m["phases"].items()))
    for size in ("default", "b16"):
        p = m[f"ix_{size}_pooled"]
        f = m[f"ix_{size}_frame_pooled"]
        L.append(f"interaction {size}, pooled over {p['n']} clicks: p50 {fmt(p['p50'])} ms, p95 {fmt(p['p95'])} ms,"
                 f" max {fmt(p['max'])} ms, timeouts {p['timeouts']}; to the next frame: p50 {fmt(f['p50'])}, p95 {fmt(f['p95'])}")
    L.append("")
    L.append("Own files (gzip -9; * = requested by the article):")
    L.append("")
    L.append("| file | raw | gzip |")
    L.append("|---|---:|---:|")
    for r in own["files"]:
        L.append(f"| {'* ' if r['requested'] else ''}{r['file']} | {r['raw']:,} | {r['gz']:,} |")
    L.append(f"| **requested by the article** | | **{own['article_gz']:,}** ({own['article_gz'] / 1024:.1f} KB) |")
    L.append(f"| all own files in dist | | {own['all_gz']:,} ({own['all_gz'] / 1024:.1f} KB) |")
    return m, "\n".join(L)


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="cold loads of each page (default 7)")
    ap.add_argument("--slow-runs", type=int, default=3, help="throttled loads of each mode (default 3; 0 skips)")
    ap.add_argument("--lighthouse-runs", type=int, default=3, help="Lighthouse runs per preset (default 3; 0 skips)")
    ap.add_argument("--clicks", type=int, default=21, help="strategy clicks per size (default 21)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    ap.add_argument("--build", action="store_true", help="build dist/ first even when it exists")
    ap.add_argument("--no-rebuild-timing", action="store_true", help="skip the cached-rebuild timing")
    ap.add_argument("--trace", metavar="DIR", help="save a Playwright trace of the first article load here")
    ap.add_argument("--dist", metavar="DIR", help="measure this built site instead of dist/ (for A/B runs)")
    ap.add_argument("--warmup", type=int, default=1, help="unrecorded article loads first (default 1)")
    ap.add_argument("--headed", action="store_true")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()
    if args.build or not (DIST / "index.html").is_file():
        print("building dist/ …", file=sys.stderr)
        run_build()
    rebuild_s, rebuild_out = None, ""
    if not args.no_rebuild_timing:
        print("timing a cached rebuild (build.py build, twice) …", file=sys.stderr)
        run_build()
        rebuild_s, rebuild_out = run_build()

    # Serve a frozen copy (hard links): others may rebuild dist/ while this runs.
    tmp = tempfile.TemporaryDirectory(prefix="bench_page-")
    site = Path(tmp.name) / "dist"
    source = Path(args.dist) if args.dist else DIST
    try:
        shutil.copytree(source, site, copy_function=os.link)
    except OSError:
        shutil.rmtree(site, ignore_errors=True)
        shutil.copytree(source, site)
    engine = sorted((site / "assets").glob("pe_engine-*.zip"))
    pyodide_dir = sorted((site / "vendor").glob("pyodide-*"))
    if not engine or not pyodide_dir:
        raise SystemExit("dist/ has no engine archive or vendored Pyodide")
    stock_js = STOCK_JS % {"index": f"/vendor/{pyodide_dir[-1].name}/", "engine": f"/assets/{engine[-1].name}"}
    server = StaticServer(site, make_handler({"/__bench/stock.html": (STOCK_HTML.encode(), "text/html; charset=utf-8"),
                           "/__bench/stock.js": (stock_js.encode(), "text/javascript")}))

    from playwright.sync_api import sync_playwright

    nginx = None
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from nginx import Nginx, available as nginx_available  # noqa: E402
    if nginx_available() and (args.slow_runs or args.lighthouse_runs):
        nginx = Nginx(site).start()
    host_url = nginx.url if nginx else server.url
    out_dir = Path(args.json).parent if args.json else Path(tmp.name)

    stock_runs, article_runs, throttled, lighthouse = [], [], [], {"mobile": [], "desktop": []}
    try:
        with sync_playwright() as pw:
            browser = launch(pw, headless=not args.headed)
            for _ in range(args.warmup):
                # a fresh browser starts its own WebUI renderers for a few seconds; keep that
                # CPU out of the measured loads (the result is not recorded)
                print("warm-up load (not recorded) …", file=sys.stderr)
                run_article(browser, server.url, 0)
            for i in range(args.runs):
                a = run_stock(browser, server.url)
                stock_runs.append(a)
                print(f"run {i + 1}/{args.runs}  (a) stock ready {fmt(a.get('ready'))} ms"
                      + (f"  ERROR {a['error']}" if "error" in a else ""), file=sys.stderr)
                trace = None
                if args.trace and i == 0:
                    os.makedirs(args.trace, exist_ok=True)
                    trace = os.path.join(args.trace, "article-load.zip")
                b = run_article(browser, server.url, args.clicks, trace)
                article_runs.append(b)
                if "error" in b:
                    print(f"               (b) ERROR {b['error']}", file=sys.stderr)
                else:
                    d, h = b.get("ix_default", {}), b.get("ix_b16", {})
                    print(f"               (b) ready {fmt(b['ready'])} ms, FCP {fmt(b['fcp'])}, LCP {fmt(b['lcp'])},"
                          f" TBT {fmt(b['tbt'])}, CLS {b['cls']:.4f}; ix p95 default"
                          f" {fmt(percentile(d.get('latencies', []), 95))}, B/16 {fmt(percentile(h.get('latencies', []), 95))}",
                          file=sys.stderr)
            for i in range(args.slow_runs):
                for mode in ("rule", "eager"):
                    r = run_throttled(browser, host_url, mode)
                    throttled.append(r)
                    print(f"slow {i + 1}/{args.slow_runs} {mode}: FCP {fmt(r.get('fcp'))}, LCP {fmt(r.get('lcp'))},"
                          f" load {fmt(r.get('load'))}, runtime from {fmt(r.get('runtime_first'))} ms", file=sys.stderr)
            browser.close()
        for i in range(args.lighthouse_runs):
            for preset in ("mobile", "desktop"):
                r = run_lighthouse(host_url + "index.html", preset, out_dir, i)
                lighthouse[preset].append(r)
                print(f"lighthouse {i + 1}/{args.lighthouse_runs} {preset}: "
                      + (f"score {r['score']}, LCP {fmt(r['lcp'])}, FCP {fmt(r['fcp'])}, TBT {fmt(r['tbt'])},"
                         f" CLS {r['cls']:.3f}, SI {fmt(r['si'])} ({r['lcp_element']})" if "error" not in r else f"ERROR {r['error']}"),
                      file=sys.stderr)
    finally:
        server.close()
        if nginx:
            nginx.stop()

    requested = {f["url"] for r in article_runs if "files" in r for f in r["files"]}
    own = own_bytes_report(site, requested)
    tmp.cleanup()
    medians, table = summarise(stock_runs, article_runs, own, rebuild_s, throttled, lighthouse)
    print(table)
    print(f"\nload average (1, 5, 15 min) at start {load_start}, at end {os.getloadavg()} on {os.cpu_count()} CPUs"
          " — other work on the machine inflates every time above")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "medians": medians, "own_bytes": own, "rebuild_s": rebuild_s, "rebuild_output": rebuild_out,
            "stock": stock_runs, "article": article_runs, "throttled": throttled, "lighthouse": lighthouse,
            "targets": {k: v[1] for k, v in TARGETS.items()},
        }, indent=1, default=str))
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
