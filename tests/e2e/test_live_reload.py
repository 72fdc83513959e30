"""`build.py serve`: an edit reloads the open page, a broken file shows the error overlay over
the last good build, and fixing it brings the page back; a normal build has no live reload."""
from __future__ import annotations

import re

import pytest

from conftest import free_port
from sitebuild import LiveServer, copy_content, live_connection, run, tree_hash

OVERLAY = ".build-error-overlay[role=alert]"


@pytest.fixture
def live(tmp_path):
    content = copy_content(tmp_path)
    server = LiveServer(content, tmp_path / "dist", free_port(), tmp_path / "serve.log")
    server.content, server.out = content, tmp_path / "dist"
    yield server
    server.stop()


def test_edit_reloads_break_shows_overlay_fix_recovers(live, page):
    about = live.content / "about.md"
    original = about.read_text(encoding="utf-8")
    with live_connection(page):
        page.goto(live.url + "about.html")
    assert page.locator("h1").text_content() == "About this site"
    page.evaluate("window.__notReloaded = true")

    # 1. A prose edit: the open page shows the new paragraph by itself (patched in place,
    #    without a navigation, so it is fast and the live components keep their state).
    edited = original + "\nA paragraph about zanzibarian patches.\n"
    about.write_text(edited, encoding="utf-8")
    page.locator("text=zanzibarian").wait_for(timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True, "a prose edit should patch, not navigate"
    assert page.locator(OVERLAY).count() == 0

    # 1b. A new component is more than prose: the open page really reloads.
    page.evaluate("window.__notReloaded = true")
    with live_connection(page):
        about.write_text(edited + "\n::: rope-shift\n:::\n", encoding="utf-8")
        page.locator("[data-component=rope-shift]").wait_for(timeout=15_000)
    assert page.evaluate("window.__notReloaded") is None, "a new component must reload the page"
    with live_connection(page):
        about.write_text(edited, encoding="utf-8")
        page.locator("[data-component=rope-shift]").wait_for(state="detached", timeout=15_000)

    # 2. A broken file: the overlay shows path:line: message, over the last good build.
    broken = edited + "\n::: no-such-component\n:::\n"
    line = broken.split("\n").index("::: no-such-component") + 1
    page.evaluate("window.__notReloaded = true")
    about.write_text(broken, encoding="utf-8")
    overlay = page.locator(OVERLAY)
    overlay.wait_for(timeout=15_000)
    report = overlay.locator("pre").text_content()
    assert re.search(rf"(^|\n){re.escape(str(about))}:{line}: unknown component 'no-such-component'", report), report
    assert "Traceback" not in report
    assert page.evaluate("window.__notReloaded") is True  # the page under the overlay stays
    assert page.locator("text=zanzibarian").count() == 1
    status, served = live.get("about.html")
    assert status == 200 and "zanzibarian" in served and "no-such-component" not in served
    assert live.proc.poll() is None, live.log()
    assert f"{about}:{line}: unknown component" in live.log()

    # A page opened while the build is broken shows the overlay straight away.
    second = page.context.new_page()
    second.goto(live.url + "about.html")
    second.locator(OVERLAY).wait_for(timeout=15_000)
    second.close()

    # 3. Fixed: the page reloads with the new text and without the overlay.
    with live_connection(page):
        about.write_text(edited.replace("zanzibarian", "quokkalike"), encoding="utf-8")
        page.locator("text=quokkalike").wait_for(timeout=15_000)
    assert page.locator(OVERLAY).count() == 0
    assert page.locator("text=zanzibarian").count() == 0
    assert page.evaluate("window.__notReloaded") is None


def test_only_serve_injects_livereload(live, tmp_path):
    status, served = live.get("about.html")
    assert status == 200
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', served)
    assert "/__live/livereload.js" in scripts, scripts
    status, js = live.get("/__live/livereload.js")
    assert status == 200 and "EventSource" in js
    # The output folder serve wrote is exactly what build writes: no preview code in it.
    out = tmp_path / "built"
    proc = run("build", content=live.content, out=out)
    assert proc.returncode == 0, proc.stderr
    for page_file in out.glob("*.html"):
        assert "livereload" not in page_file.read_text(encoding="utf-8"), page_file.name
    assert tree_hash(live.out) == tree_hash(out)
