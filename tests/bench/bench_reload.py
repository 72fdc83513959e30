#!/usr/bin/env python3
"""Live preview latency: from saving a markdown edit to the open page showing the new text.

    .venv/bin/python tests/bench/bench_reload.py [--runs 10] [--page about|article]

Starts `build.py serve --no-snapshot` on a copy of content/, opens the page in Chromium,
then, per run, notes the wall time just before writing the file and waits (a Playwright
locator; the page's CSP blocks wait_for_function) until the reloaded page shows a new
unique word. Prints each run, the median and p90, and the server's own rebuild times.
Target: median <= 300 ms.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "e2e"))

from conftest import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402
from sitebuild import LiveServer, copy_content, live_connection  # noqa: E402

PAGES = {"about": ("about.md", "about.html"), "article": ("positional-embeddings.md", "index.html")}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--page", choices=PAGES, default="about")
    args = parser.parse_args()
    source_name, url_path = PAGES[args.page]

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        content = copy_content(tmp)
        source = content / source_name
        original = source.read_text(encoding="utf-8")
        server = LiveServer(content, tmp / "dist", free_port(), tmp / "serve.log")
        times: list[float] = []
        try:
            with sync_playwright() as p:
                kwargs = {"args": CHROMIUM_ARGS}
                if Path(CHROMIUM).exists():
                    kwargs["executable_path"] = CHROMIUM
                browser = p.chromium.launch(**kwargs)
                page = browser.new_page()
                with live_connection(page):
                    page.goto(server.url + url_path)
                for run in range(1, args.runs + 1):
                    word = f"benchword{run}x{time.time_ns() % 100000}"
                    text = original + f"\nA paragraph with {word}.\n"
                    # A prose edit is patched into the open page (no navigation); should the
                    # page reload instead, the pause below lets it listen again before the next run.
                    t0 = time.perf_counter()
                    source.write_text(text, encoding="utf-8")
                    page.locator(f"text={word}").wait_for(timeout=30_000)
                    elapsed = (time.perf_counter() - t0) * 1000
                    times.append(elapsed)
                    print(f"run {run:2d}: {elapsed:6.0f} ms", flush=True)
                    time.sleep(0.5)
                browser.close()
        finally:
            server.stop()
        rebuilds = [float(m) for m in re.findall(r"rebuilt in (\d+) ms", server.log())]
    print(f"median {statistics.median(times):.0f} ms, p90 {percentile(times, 0.9):.0f} ms "
          f"(save -> new text on the reloaded {url_path}, {len(times)} runs)")
    if rebuilds:
        print(f"server rebuild alone: median {statistics.median(rebuilds):.0f} ms, "
              f"p90 {percentile(rebuilds, 0.9):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
