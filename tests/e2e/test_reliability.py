"""Reliability of the built site (issue 8): nginx at the root and under a subpath, the
CSP, injected faults, a seeded fuzz run, and hostile input.

Faults are injected with Playwright routes (the page's and the worker's requests both
go through the context) or, for the wrong MIME type, with an nginx location. Each fault
test checks that the article and the pre-rendered stepper keep working and that the
engine status says what happened within 15 s.
"""
import math
import random
import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError, expect

from conftest import DIST, ROOT, figure_data, wait_ready, wait_source
from nginx import Nginx, available as nginx_available

sys.path.insert(0, str(ROOT / "pyodide_src"))
sys.path.insert(0, str(ROOT))
from pe_engine import views  # noqa: E402
from pe_engine.similarity import cosine_similarity_map  # noqa: E402

HEATMAP = "vit-stepper-0-heatmap"
SIMILARITY = "vit-stepper-0-similarity"
STATUS_DEADLINE_S = 15
DEFAULT = {"image_size": 64, "patch": 16, "dim": 8}  # content/positional-embeddings.md

needs_nginx = pytest.mark.skipif(not nginx_available(), reason="nginx is not installed (make test installs it)")


def csp() -> str:
    from build import CSP
    return CSP


@pytest.fixture(scope="module")
def nginx(site_dir, tmp_path_factory):
    """nginx over dist/ at / and /articles/vit/, sending the page's CSP as a header too."""
    if not nginx_available():
        pytest.skip("nginx is not installed (make test installs it)")
    srv = Nginx(site_dir, tmp_path_factory.mktemp("nginx"), csp_header=csp()).start()
    yield srv
    srv.stop()


# --------------------------------------------------------------------------- helpers

STATUS_LOG = """
  window.__statusLog = [];
  new MutationObserver(() => {
    const n = document.querySelector('[data-engine-status]');
    if (!n) return;
    // What the line says, and the engine's own words behind it (its tooltip).
    const last = window.__statusLog.at(-1), state = n.dataset.state || '', text = (n.textContent + ' ' + n.title).trim();
    if (!last || last[1] !== state || last[2] !== text) window.__statusLog.push([performance.now(), state, text]);
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true,
                         attributeFilter: ['data-state', 'title'] });
"""


def status_log(page):
    """Every (ms since navigation, state, text) the status went through."""
    return [tuple(x) for x in page.evaluate("window.__statusLog")]


def engine_status(page):
    return tuple(page.evaluate(
        "() => { const n = document.querySelector('[data-engine-status]');"
        " return [n.dataset.state || '', (n.textContent + ' ' + n.title).trim()]; }"))


def wait_state(page, states, timeout_s=STATUS_DEADLINE_S):
    """Poll the status until its data-state is one of ``states``; return (state, text, seconds, history)."""
    t0 = time.monotonic()
    seen = []
    while True:
        state, text = engine_status(page)
        if not seen or seen[-1] != (state, text):
            seen.append((state, text))
        elapsed = time.monotonic() - t0
        if state in states:
            return state, text, elapsed, seen
        assert elapsed < timeout_s, f"status did not reach {states} within {timeout_s} s: {seen}"
        page.wait_for_timeout(100)


def poll(page, fn, timeout_s=15, interval_ms=100, what="condition"):
    t0 = time.monotonic()
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() - t0 < timeout_s, f"timed out waiting for {what}"
        page.wait_for_timeout(interval_ms)


def close(a, b, tol=1e-9):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            close(x, y, tol) for x, y in zip(a, b))
    return a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=tol)


def heatmap_matches(page, strategy, grid, dim, source):
    want = views.pe_table(strategy, grid, grid, dim, seed=0)
    attr = page.get_attribute(f"#{HEATMAP}", "data-source")
    return (source is None or attr == source) and close(figure_data(page, HEATMAP), want)


def article_is_there(page):
    assert page.locator("h1").first.text_content().strip() == "Positional embeddings in Vision Transformers"
    assert page.locator("math[display=block]").count() >= 3
    assert page.locator(".prose p").count() >= 10


def use_prebuilt_stepper(page, expect_source="build"):
    """The stepper works without the engine: steps, patches and strategies from the build's numbers."""
    tab = page.get_by_role("tab", name="Add Pos")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.locator('[data-panel="addpos"]')).to_be_visible()
    page.get_by_role("button", name="Patch 10 (row 2, column 2)").click()
    expect(page.locator("[data-readout-k]")).to_have_text("10")
    expect(page.locator("[data-readout-r]")).to_have_text("2")
    expect(page.locator("[data-readout-c]")).to_have_text("2")
    expect(page.locator('[data-panel="addpos"] [data-field="k"]')).to_have_text("10")
    page.get_by_role("radio", name="Sinusoidal", exact=True).check()
    poll(page, lambda: heatmap_matches(page, "sinusoidal", 4, 8, expect_source), 10,
         what=f"the {expect_source} sinusoidal heatmap")
    page.get_by_role("tab", name="Patch").click()
    expect(page.locator('[data-panel="patch"]')).to_be_visible()
    expect(page.locator('[data-panel="addpos"]')).to_be_hidden()


def dist_file(pattern):
    found = sorted(DIST.glob(pattern))
    assert found, f"no {pattern} in dist/"
    return found[0]


def url_rel(path: Path) -> str:
    return path.relative_to(DIST).as_posix()


# --------------------------------------------------------------------------- 1. nginx

@needs_nginx
@pytest.mark.parametrize("where", ["root", "subpath"])
def test_nginx_serves_the_site(page, nginx, where):
    base = nginx.url if where == "root" else nginx.sub_url
    response = page.goto(base)
    assert response.status == 200
    assert "wasm-unsafe-eval" in (response.headers.get("content-security-policy") or "")
    article_is_there(page)
    wait_ready(page)
    assert "snapshot" in engine_status(page)[1]  # the fast boot worked behind nginx (the line's tooltip)
    wait_source(page, HEATMAP, "pyodide")
    assert heatmap_matches(page, "learned", 4, 8, "pyodide")
    # Everything came from this server and, under the subpath, from under the subpath.
    local = [u for u in page.guard.requests if u.startswith("http")]
    assert local and all(u.startswith(base) for u in local), [u for u in local if not u.startswith(base)]
    mimes = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert any(u.endswith("pyodide.asm.wasm") for u in mimes + page.guard.requests)


@needs_nginx
def test_nginx_mime_types(nginx):
    import urllib.request

    for rel, want in [(url_rel(dist_file("vendor/pyodide-*/pyodide.asm.wasm")), "application/wasm"),
                      (url_rel(dist_file("vendor/pyodide-*/pyodide.mjs")), "text/javascript"),
                      (url_rel(dist_file("assets/site-*/js/main.js")), "text/javascript")]:
        for base in (nginx.url, nginx.sub_url):
            with urllib.request.urlopen(urllib.request.Request(base + rel, method="HEAD")) as r:
                assert r.headers["content-type"].split(";")[0] == want, (base + rel, r.headers["content-type"])


# --------------------------------------------------------------------------- 2. CSP

class MetaCSP(HTMLParser):
    def __init__(self):
        super().__init__()
        self.policies = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy":
            self.policies.append(a.get("content") or "")


def parse_csp(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def test_every_page_has_a_strict_meta_csp(site_dir):
    pages = sorted(site_dir.rglob("*.html"))
    assert len(pages) >= 2
    for path in pages:
        parser = MetaCSP()
        parser.feed(path.read_text(encoding="utf-8"))
        assert len(parser.policies) == 1, f"{path.name}: {len(parser.policies)} CSP meta tags"
        d = parse_csp(parser.policies[0])
        for key in ("default-src", "script-src", "connect-src", "worker-src", "img-src", "object-src", "base-uri"):
            assert key in d, f"{path.name}: no {key}"
        assert d["default-src"] == ["'self'"], d["default-src"]
        script = d["script-src"]
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, script
        assert "'wasm-unsafe-eval'" in script, script
        assert set(script) <= {"'self'", "'wasm-unsafe-eval'"}, script
        assert d["connect-src"] == ["'self'"], d["connect-src"]
        assert d["worker-src"] == ["'self'"], d["worker-src"]
        assert set(d["img-src"]) <= {"'self'", "data:", "blob:"}, d["img-src"]
        assert d["object-src"] == ["'none'"]
        for key, values in d.items():
            for v in values:
                assert v != "*" and not v.startswith(("http:", "https:", "ws:")), f"{path.name}: {key} {v}"


@needs_nginx
def test_no_csp_violation_while_interacting(page, nginx):
    """Meta and header CSP both enforced; every strategy, step and a parameter change."""
    page.goto(nginx.url)
    use_prebuilt_stepper(page, None)  # build or live numbers: the engine may win the race
    wait_ready(page)
    for name in ("Learned (ViT)", "Sinusoidal", "2D-Aware"):
        page.get_by_role("radio", name=name, exact=True).check()
        wait_source(page, HEATMAP, "pyodide")
    page.get_by_role("radio", name="2D-Aware", exact=True).check()
    page.get_by_label("2D variant").select_option("learned2d")
    for step in ("Input", "Patch", "Project", "Flatten", "Add Pos"):
        page.get_by_role("tab", name=step).click()
    page.get_by_role("button", name="Previous step").click()
    page.get_by_role("button", name="Next step").click()
    page.get_by_text("Change the sizes, or use your own image").click()
    page.get_by_label("Patch size").select_option("8")
    poll(page, lambda: heatmap_matches(page, "learned2d", 8, 8, "pyodide"), 20, what="the 8×8 learned2d heatmap")
    page.get_by_role("button", name="Shuffle patches").click()
    page.get_by_label("Add positional embedding").check()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__cspViolations") == []
    assert page.guard.csp_violations() == []


# --------------------------------------------------------------------------- 3. faults

def fulfil_status(status):
    def handler(route):
        route.fulfill(status=status, body="not here", content_type="text/plain")
    return handler


def goto_logged(page, url, **kwargs):
    page.add_init_script(STATUS_LOG)
    return page.goto(url, **kwargs)


def assert_failed_with(page, *needles):
    """The status ends in "failed", naming the cause, within 15 s of navigation."""
    state, text, _, seen = wait_state(page, {"failed", "ready"})
    assert state == "failed", f"expected a failure, got {seen}"
    for needle in needles:
        assert needle in text, f"{needle!r} not in status {text!r}"
    assert "pre-computed figures still work" in text
    ms = status_log(page)[-1][0]
    assert ms < STATUS_DEADLINE_S * 1000, status_log(page)
    print(f"\nstatus after {ms / 1000:.1f} s: {text}")
    return text


def test_fault_wasm_404(page, server):
    page.guard.allowed_errors.append("404")
    page.context.route("**/pyodide.asm.wasm", fulfil_status(404))
    goto_logged(page, server.url)
    article_is_there(page)
    assert_failed_with(page, "pyodide.asm.wasm answered HTTP 404")
    use_prebuilt_stepper(page)
    assert page.get_attribute(f"#{HEATMAP}", "data-source") == "build"


@needs_nginx
def test_fault_wasm_wrong_mime_type(page, site_dir, tmp_path):
    with Nginx(site_dir, tmp_path / "nginx", mime_overrides={"wasm": "text/plain"}) as srv:
        goto_logged(page, srv.url)
        article_is_there(page)
        assert_failed_with(page, "pyodide.asm.wasm", '"text/plain"', "application/wasm")
        use_prebuilt_stepper(page)


def truncate(fraction):
    def handler(route):
        if route.request.method != "GET":
            return route.fallback()
        response = route.fetch()
        body = response.body()
        route.fulfill(response=response, body=body[: int(len(body) * fraction)])
    return handler


@pytest.mark.parametrize("snapshot", ["without snapshot", "with snapshot"])
def test_fault_truncated_stdlib(page, server, snapshot):
    """Half a python_stdlib.zip. The normal boot needs it and must fail with a message; the
    snapshot already holds every module the engine imports, so that boot works regardless."""
    page.context.route("**/python_stdlib.zip", truncate(0.5))
    if snapshot == "without snapshot":
        page.guard.allowed_errors.append("404")
        page.context.route("**/snapshot-*.bin.gz", fulfil_status(404))
    goto_logged(page, server.url)
    article_is_there(page)
    if snapshot == "without snapshot":
        assert_failed_with(page, "python_stdlib.zip looks damaged", "Failed to import encodings")
        use_prebuilt_stepper(page)
    else:
        use_prebuilt_stepper(page, None)
        wait_ready(page)
        poll(page, lambda: heatmap_matches(page, "sinusoidal", 4, 8, "pyodide"), 15, what="the live heatmap")


@pytest.mark.parametrize("damage", ["truncated"])  # "garbage" works too; one normal boot keeps the run short
def test_fault_corrupt_snapshot_falls_back(page, server, damage):
    def handler(route):
        if route.request.method != "GET":
            return route.fallback()
        if damage == "truncated":
            response = route.fetch()
            route.fulfill(response=response, body=response.body()[:200_000])
        else:
            route.fulfill(status=200, body=random.Random(7).randbytes(300_000),
                          content_type="application/gzip")
    page.context.route("**/snapshot-*.bin.gz", handler)
    goto_logged(page, server.url)
    article_is_there(page)
    use_prebuilt_stepper(page)
    state, text, _, seen = wait_state(page, {"ready", "failed"}, timeout_s=45)
    log = status_log(page)
    assert state == "ready", log
    assert "snapshot" not in text, text  # the normal boot, and it says so
    said = [ms for ms, _, t in log if "Snapshot unusable" in t]
    assert said and said[0] < STATUS_DEADLINE_S * 1000, log
    assert any("snapshot boot failed" in w for w in page.guard.warnings), page.guard.warnings
    poll(page, lambda: heatmap_matches(page, "sinusoidal", 4, 8, "pyodide"), 15, what="the live heatmap")
    print(f"\n{damage} snapshot: fallback announced after {said[0] / 1000:.1f} s, "
          f"ready after {log[-1][0] / 1000:.1f} s: {text}")


def test_fault_engine_archive_404(page, server):
    page.guard.allowed_errors.append("404")
    page.context.route("**/assets/pe_engine-*.zip", fulfil_status(404))
    goto_logged(page, server.url)
    article_is_there(page)
    assert_failed_with(page, "pe_engine-", "HTTP 404")
    use_prebuilt_stepper(page)


def test_fault_worker_error_during_a_call(page, server):
    goto_logged(page, server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    err = page.evaluate("""() => window.peEngine.call('vit-stepper', {image_size: 64, patch: 16, dim: 8, strategy: 'nope'})
        .then(() => null, (e) => e.message)""")
    assert err and "strategy" in err, err
    # A failure below worker_api (Python raising into the worker's JS): still an answer.
    err2 = page.evaluate("""() => window.peEngine.send({type: 'source', bytes: null, size: 5})
        .then(() => null, (e) => e.message)""")
    assert err2, "a broken source message should be rejected"
    err3 = page.evaluate("""() => window.peEngine.call('vit-stepper', {image_size: 64, patch: 16, dim: 8, bogus: 1})
        .then(() => null, (e) => e.message)""")
    assert err3 and "bogus" in err3, err3
    assert engine_status(page)[0] == "ready"
    page.get_by_role("tab", name="Patch").click()
    page.get_by_role("radio", name="2D-Aware", exact=True).check()
    poll(page, lambda: heatmap_matches(page, "sincos2d", 4, 8, "pyodide"), 15, what="the sincos2d heatmap")
    page.get_by_role("button", name="Patch 3 (row 0, column 3)").click()
    expect(page.locator("[data-readout-k]")).to_have_text("3")


def test_fault_slow_network(page, server):
    """The big runtime files are held back: the article and the build's figures come first."""
    held = []
    page.context.route(re.compile(r"(pyodide\.asm\.wasm|python_stdlib\.zip|snapshot-.*\.bin\.gz|pe_engine-.*\.zip)$"),
                       lambda route: held.append(route))
    t0 = time.monotonic()
    goto_logged(page, server.url, wait_until="domcontentloaded")
    article_is_there(page)
    poll(page, lambda: heatmap_matches(page, "learned", 4, 8, "build"), 10, what="the pre-rendered heatmap")
    assert page.get_attribute(f"#{SIMILARITY}", "data-source") == "build"
    state, text = engine_status(page)
    assert state == "loading" and "Downloading" in text, (state, text)
    use_prebuilt_stepper(page)
    print(f"\npre-rendered stepper usable {time.monotonic() - t0:.1f} s after navigation, "
          f"{len(held)} runtime requests still held")
    assert held, "the runtime requests were not held"
    assert engine_status(page)[0] == "loading"
    # Let the runtime arrive (requests made while releasing are passed through too).
    page.context.unroute(re.compile(r"(pyodide\.asm\.wasm|python_stdlib\.zip|snapshot-.*\.bin\.gz|pe_engine-.*\.zip)$"))
    for route in held:
        route.fallback()
    wait_ready(page)
    poll(page, lambda: heatmap_matches(page, "sinusoidal", 4, 8, "pyodide"), 15, what="the live heatmap")


def test_javascript_disabled(browser, server):
    ctx = browser.new_context(java_script_enabled=False)
    try:
        pg = ctx.new_page()
        pg.goto(server.url)
        article_is_there(pg)
        math_text = " ".join(pg.locator("math").all_text_contents())
        assert "sin" in math_text and "cos" in math_text
        expect(pg.locator(".prose > .math-display > math").first).to_be_visible()
        titles = ["Step 1 · Input", "Step 2 · Patch", "Step 3 · Project", "Step 4 · Flatten", "Step 5 · Add Pos"]
        for step, title in zip(["input", "patch", "project", "flatten", "addpos"], titles):
            panel = pg.locator(f'[data-panel="{step}"]')
            expect(panel).to_be_visible()
            expect(panel.locator("h4")).to_have_text(title)
            assert len(panel.text_content().split()) > 10
        assert "[CLS]" in pg.locator('[data-panel="flatten"]').text_content()
        figures = pg.locator("figure.plot-figure")
        assert figures.count() >= 3
        for i in range(figures.count()):
            fig = figures.nth(i)
            assert fig.locator("figcaption").text_content().strip()
            fallback = fig.locator(".plot-fallback")
            assert "needs JavaScript" in fallback.text_content()
            if fig.evaluate("f => !f.closest('details:not([open])')"):  # the tiles sit in a closed <details>
                expect(fallback).to_be_visible()
        status = pg.locator("[data-engine-status]").text_content()
        assert "computed when the page was built" in status
        expect(pg.get_by_role("button", name="Next step")).to_be_hidden()
    finally:
        ctx.close()


def test_config_change_then_quick_click_is_not_lost(page, server):
    """Found by the fuzz run: a new configuration, then a tab, patch or strategy click before
    the worker answered, used to leave the old heatmap on screen (marked busy) under the new state."""
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    page.get_by_role("tab", name="Patch").click()
    for patch, grid, then in [(8, 8, "tab"), (32, 2, "patch"), (16, 4, "strategy")]:
        # The click runs right after the stepper's own hashchange handler, so it always lands
        # while the new configuration is still being computed.
        page.evaluate("""([patch, then]) => {
            addEventListener('hashchange', () => {
              if (then === 'tab') document.querySelector('[role=tab][data-step="project"]').click();
              else if (then === 'patch') document.querySelector('[data-patch-grid] .patch').click();
              else document.querySelector('.strategies input[value="sinusoidal"]').click();
            }, { once: true });
            location.hash = `step=patch&pe=learned&patch=0&size=64&p=${patch}&d=8`;
        }""", [patch, then])
        strategy = "sinusoidal" if then == "strategy" else "learned"
        poll(page, lambda: heatmap_matches(page, strategy, grid, 8, "pyodide")
             and not page.locator(".plot[data-busy=true]").count(), 15,
             what=f"the {grid}×{grid} heatmap after a new patch size and a quick {then} click")
        expect(page.locator("[data-patch-grid] .patch")).to_have_count(grid * grid)


# --------------------------------------------------------------------------- 4. fuzz

def fuzz_fragment(rng):
    kind = rng.random()
    if kind < 0.45:  # valid, mostly small
        size = rng.choice([32, 48, 64, 64, 96, 128])
        patch = rng.choice([p for p in (4, 8, 16, 32) if size % p == 0 and (size // p) ** 2 <= 256] or [16])
        return (f"step={rng.choice(['input', 'patch', 'project', 'flatten', 'addpos'])}"
                f"&pe={rng.choice(['learned', 'sinusoidal', 'sincos2d', 'learned2d'])}"
                f"&patch={rng.randrange(0, (size // patch) ** 2)}&size={size}&p={patch}"
                f"&d={rng.choice([4, 8, 12, 16, 32])}")
    if kind < 0.75:  # out of range
        return rng.choice([
            "step=addpos&patch=999999&size=64&p=16&d=8", "size=100000&p=0&d=-4", "size=384&p=4&d=8",
            "size=64&p=14&d=8", "d=1284", "d=6", "d=0", "patch=-1", "size=9999&p=1",
            "step=addpos&pe=learned&patch=15&size=64&p=16&d=99999"])
    return rng.choice([  # garbage
        "%%%", "step=%E0%A4%A", "pe=__proto__&step=constructor", "&&&==&", "size=6.4e1&p=0x10",
        "patch=" + "9" * 400, "step=input&step=addpos&pe=sinusoidal&pe=nope", "#####", "d=NaN&size=Infinity",
        "\u0000\u202e", "step=<b>x</b>"])


# Seeded interactions of the fuzz run: 200 in `make test`, more in a long run (PE_FUZZ_ACTIONS=500).
FUZZ_ACTIONS = int(__import__("os").environ.get("PE_FUZZ_ACTIONS", "200"))


def test_fuzz_interactions(page, server, tmp_path):
    rng = random.Random(1234)
    bad_png = tmp_path / "notes.png"
    bad_png.write_text("This is a text file wearing a .png name.\n" * 20)
    page.goto(server.url)
    wait_ready(page)
    page.get_by_text("Change the sizes, or use your own image").click()
    steps = ["Input", "Patch", "Project", "Flatten", "Add Pos"]
    presets = page.eval_on_selector_all('[data-option="preset"] option', "os => os.map(o => o.value).filter(Boolean)")
    small_presets = [p for p in presets if "Ti" in p or "S/" in p]
    counts: dict[str, int] = {}
    t0 = time.monotonic()

    def act(name, fn):
        counts[name] = counts.get(name, 0) + 1
        fn()

    def click(locator):
        """What a user can click: a disabled or hidden control is a no-op."""
        if usable(locator):
            try:
                locator.click(timeout=5_000)
            except PlaywrightTimeoutError:
                if locator.count():  # still there and still not clickable: a real problem
                    raise
                counts["vanished"] = counts.get("vanished", 0) + 1  # the grid was rebuilt smaller meanwhile

    def usable(locator):
        """Visible and enabled (a hidden or disabled control, or one gone meanwhile, is a no-op)."""
        try:
            if locator.evaluate("e => !e.disabled && e.checkVisibility({ visibilityProperty: true })", timeout=3_000):
                return True
            counts["no-op"] = counts.get("no-op", 0) + 1
        except PlaywrightTimeoutError:
            if locator.count():
                raise
            counts["vanished"] = counts.get("vanished", 0) + 1
        return False

    def patch_buttons():
        return page.locator("[data-patch-grid] .patch")

    def click_patch():
        n = patch_buttons().count()
        click(patch_buttons().nth(rng.randrange(n)))

    def key_patch():
        n = patch_buttons().count()
        button = patch_buttons().nth(rng.randrange(n))
        if not usable(button):
            return
        try:
            button.focus(timeout=5_000)
        except PlaywrightTimeoutError:
            if button.count():
                raise
            counts["vanished"] = counts.get("vanished", 0) + 1
            return
        page.keyboard.press(rng.choice(["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "Home", "End"]))

    def key_tab():
        page.get_by_role("tab", name=rng.choice(steps)).focus()
        page.keyboard.press(rng.choice(["ArrowRight", "ArrowLeft", "ArrowUp", "ArrowDown", "Home", "End"]))

    def param():
        which = rng.random()
        if which < 0.4:
            page.get_by_label("Image size").select_option(str(rng.choice([32, 48, 64, 96, 128, 224])))
        elif which < 0.75:
            page.get_by_label("Patch size").select_option(str(rng.choice([4, 8, 14, 16, 32])))
        else:
            # Typed values, including ones a number input would refuse to hold.
            page.get_by_label("Embedding dimension").evaluate(
                "(e, v) => { e.value = v; e.dispatchEvent(new Event('change', { bubbles: true })); }",
                rng.choice(["4", "8", "12", "16", "32", "10", "0", "-8", "abc", "1e3", "5000", "7", "", "8.5"]))

    def preset():
        # Big presets are slow in the worker (ViT-B/16 is a 197 × 768 table): keep them rare.
        pool = presets if rng.random() < 0.15 else small_presets
        page.get_by_label("Model preset").select_option(rng.choice(pool))

    def fragment():
        page.evaluate("h => { location.hash = h; }", fuzz_fragment(rng))

    def upload():
        page.get_by_label("Use your own image").set_input_files(str(bad_png))

    actions = [
        (12, "tab", lambda: click(page.get_by_role("tab", name=rng.choice(steps)))),
        (8, "prev/next", lambda: click(page.get_by_role("button", name=rng.choice(["Previous step", "Next step"])))),
        (6, "tab keys", key_tab),
        (12, "patch click", click_patch),
        (6, "patch keys", key_patch),
        (10, "strategy", lambda: page.get_by_role(
            "radio", name=rng.choice(["Learned (ViT)", "Sinusoidal", "2D-Aware"]), exact=True).check()),
        (4, "variant", lambda: (page.get_by_role("radio", name="2D-Aware", exact=True).check(),
                                page.get_by_label("2D variant").select_option(rng.choice(["sincos2d", "learned2d"])))),
        (12, "parameter", param),
        (1, "preset", preset),
        (3, "shuffle", lambda: click(page.get_by_role("button", name="Shuffle patches"))),
        (3, "add PE", lambda: page.get_by_label("Add positional embedding").click()),
        (8, "fragment", fragment),
        (2, "bad upload", upload),
    ]
    weights = [w for w, _, _ in actions]
    for i in range(FUZZ_ACTIONS):
        _, name, fn = rng.choices(actions, weights)[0]
        act(name, fn)
        if rng.random() < 0.3:
            page.wait_for_timeout(rng.choice([0, 20, 60, 150]))
        assert not page.guard.page_errors, f"after {i + 1} actions ({name}): {page.guard.page_errors}"
    fuzz_s = time.monotonic() - t0

    # Settle: no busy plot, engine ready, the worker idle, the heatmap drawn for the final state.
    def settled():
        return page.evaluate("""() => !document.querySelector('.plot[data-busy=true]')
            && document.querySelector('[data-engine-status]').dataset.state === 'ready'
            && window.peEngine.pending.size === 0""")
    def diagnose():
        return page.evaluate("""() => ({ busy: [...document.querySelectorAll('.plot[data-busy=true]')].map(n => n.id),
            status: document.querySelector('[data-engine-status]').textContent, pending: window.peEngine.pending.size,
            hash: location.hash })""")
    try:
        poll(page, settled, 60, what="the page to settle")
        page.wait_for_timeout(500)
        poll(page, settled, 60, what="the page to settle")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {diagnose()}; counts {counts}; warnings {page.guard.warnings[-10:]}") from None
    q = {k: v[0] for k, v in parse_qs(page.evaluate("location.hash").lstrip("#")).items()}
    strategy, size, p, dim, k = q["pe"], int(q["size"]), int(q["p"]), int(q["d"]), int(q["patch"])
    grid = size // p
    want = views.pe_table(strategy, grid, grid, dim, seed=0)
    poll(page, lambda: close(figure_data(page, HEATMAP), want), 30,
         what=f"the heatmap to show {strategy} {grid}×{grid} D={dim}")
    assert page.get_attribute(f"#{HEATMAP}", "data-source") == "pyodide"
    want_sim = cosine_similarity_map(want, grid, grid, k, num_prefix_tokens=1)
    poll(page, lambda: close(figure_data(page, SIMILARITY), want_sim), 30, what="the similarity map to match")
    expect(page.locator("[data-readout-k]")).to_have_text(str(k))
    cdp = page.context.new_cdp_session(page)
    heap = cdp.send("Runtime.getHeapUsage")
    used_mb = heap["usedSize"] / 2**20
    print(f"\nfuzz: {FUZZ_ACTIONS} actions in {fuzz_s:.1f} s {dict(sorted(counts.items()))}; final #{q}; "
          f"JS heap {used_mb:.1f} MB (bound 300 MB); {len(page.guard.warnings)} warnings, e.g. "
          f"{sorted(set(w[:90] for w in page.guard.warnings))[:6]}")
    assert used_mb < 300
    assert page.guard.unexpected_errors() == []


# --------------------------------------------------------------------------- 5. hostile input

def test_hostile_fragment_is_inert(page, server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = ('#step=<img src=x onerror=alert(1)>&pe="><script>alert(2)</script>'
            '&patch=<svg/onload=alert(3)>&size=64&p=16&d=8')
    page.goto(server.url + evil)
    scripts = page.locator("script").count()
    page.evaluate("""() => { location.hash = 'step=addpos&pe=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(4)%3E'
                              + '&patch=javascript:alert(5)'; }""")
    wait_ready(page)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("img[src=x], [onerror], [onload], svg script").count() == 0
    assert page.locator("script").count() == scripts
    html = page.evaluate("document.body.innerHTML")
    assert "onerror" not in html and "alert(" not in html
    # The fragment fell back to valid values: step addpos from the second hash, the default strategy.
    expect(page.get_by_role("tab", name="Add Pos")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("radio", name="Learned (ViT)")).to_be_checked()
    assert "onerror" not in page.evaluate("location.hash")  # rewritten to the clean state


def upload_and_expect_refusal(page, path, mime, needle):
    image = page.locator("[data-input-image]")
    before = image.get_attribute("src")
    page.get_by_label("Use your own image").set_input_files(
        files=[{"name": path.name, "mimeType": mime, "buffer": path.read_bytes()}])
    message = page.locator("[data-upload-message]")
    expect(message).to_have_attribute("data-kind", "error")
    expect(message).to_contain_text(needle)
    expect(message).to_contain_text("The previous image stays")
    assert image.get_attribute("src") == before
    expect(page.get_by_role("button", name="Back to the original image")).to_be_hidden()
    return message.text_content()


def test_hostile_files_are_refused(page, server, tmp_path):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    z_before = figure_data(page, HEATMAP)
    svg = tmp_path / "evil.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>')
    svg_png = tmp_path / "evil-svg.png"
    svg_png.write_bytes(svg.read_bytes())
    html = tmp_path / "page.png"
    html.write_text("<!doctype html><html><body><script>alert(3)</script><img src=x onerror=alert(4)></body></html>")
    for path, mime in [(svg, "image/svg+xml"), (svg_png, "image/png"), (html, "image/png")]:
        text = upload_and_expect_refusal(page, path, mime, "is not a PNG, JPEG, GIF or WebP image")
        assert path.name in text
    assert dialogs == []
    assert figure_data(page, HEATMAP) == z_before


LONGTASKS = """
  window.__longtasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
"""


def test_huge_image_does_not_freeze_the_page(page, server, tmp_path):
    """A 40 MP PNG (8000 × 5000, just at the limit): decoded, cropped and downscaled without a
    main-thread task over 200 ms, from choosing the file until the page says it is in use."""
    from PIL import Image

    big = tmp_path / "huge.png"
    Image.new("RGB", (8000, 5000), (180, 120, 60)).save(big, compress_level=1)
    page.add_init_script(LONGTASKS)
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    page.wait_for_timeout(300)
    # Long tasks, frame gaps (a requestAnimationFrame loop) and when the upload message settles.
    page.evaluate("""() => {
        window.__longtasks.length = 0; window.__gaps = []; window.__done = null; window.__raf = true;
        window.__start = performance.now();
        let last = performance.now();
        const tick = (t) => { window.__gaps.push([last, t - last]); last = t; if (window.__raf) requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
        const m = document.querySelector('[data-upload-message]');
        new MutationObserver(() => {
          if (!window.__done && (m.dataset.kind === 'error' || m.textContent.startsWith('Now showing'))) window.__done = performance.now();
        }).observe(m, { childList: true, characterData: true, subtree: true, attributes: true });
    }""")
    page.get_by_label("Use your own image").set_input_files(str(big))
    message = page.locator("[data-upload-message]")
    poll(page, lambda: page.evaluate("window.__done"), 30, what="the upload to finish")
    outcome = message.text_content()
    page.wait_for_timeout(700)  # the figures redraw for the new image meanwhile
    page.evaluate("window.__raf = false")
    start, done = page.evaluate("[window.__start, window.__done]")
    tasks = page.evaluate("window.__longtasks")
    gaps = page.evaluate("window.__gaps")
    during = max([d for t, d in tasks if t < done] or [0])
    after = max([d for t, d in tasks if t >= done] or [0])
    gap = max([g for t, g in gaps if t < done] or [0])
    print(f"\n40 MP PNG ({big.stat().st_size / 1e6:.1f} MB): {outcome!r} after {(done - start) / 1000:.1f} s; "
          f"longest main-thread task {during:.0f} ms, longest frame gap {gap:.0f} ms; "
          f"longest task in the redraw that follows {after:.0f} ms")
    assert "Now showing" in outcome or "limit is 40 MP" in outcome, outcome
    assert during < 200, f"a {during:.0f} ms long task while taking the image"
    assert gap < 250, f"no frame for {gap:.0f} ms while taking the image"
    if "Now showing" in outcome:  # downscaled: the stepper follows the new image
        wait_source(page, HEATMAP, "pyodide")
