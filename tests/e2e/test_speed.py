"""Fast on every device (issue 13) and figure chrome (issue 11, items 1-2), on the built site:
the canvas stand-in and the late Plotly, the worker's own photograph, the runtime held back on
slow connections and with Save-Data, the figures' theme, contrast and controls, no layout
shift below the first screen, and the precompressed files as nginx serves them.

Timing targets are the bench's (tests/bench/bench_page.py), never asserted here."""
import gzip
import re
import sys
import urllib.request

import brotli
import pytest
from playwright.sync_api import expect

import engine_reference as ref
from conftest import DIST, ROOT, eventually, figure_matches, wait_ready, wait_source, scroll_to
from nginx import Nginx, available as nginx_available, has_brotli
from pe_engine import cosine_similarity_map

sys.path.insert(0, str(ROOT))

HEATMAP = "vit-stepper-0-heatmap"
SIMILARITY = "vit-stepper-0-similarity"
RUNTIME = re.compile(r"(pyodide\.asm\.wasm|python_stdlib\.zip|snapshot-[0-9a-f]+\.bin\.gz)$")


def owned_by_plotly(page, element_id):
    return page.evaluate("id => { const el = document.getElementById(id);"
                         " return Boolean(el && el._fullLayout && el.querySelector('.main-svg')); }", element_id)


def drawn_on_canvas(page, element_id):
    return page.evaluate("id => Boolean(document.querySelector(`#${id} > canvas.plot-canvas`))", element_id)


def painted(page, element_id):
    """Scroll the figure near (a canvas off screen has its numbers, not yet its pixels) and
    wait for its canvas, without pointing at it (that would load Plotly)."""
    page.evaluate("id => document.getElementById(id).scrollIntoView({ block: 'center' })", element_id)
    eventually(lambda: drawn_on_canvas(page, element_id) or owned_by_plotly(page, element_id), timeout_s=15)


def bring_plotly(page, element_id=HEATMAP):
    """Point at a figure (that loads Plotly) and wait until Plotly has taken it over."""
    page.locator(f"#{element_id}").scroll_into_view_if_needed()
    page.locator(f"#{element_id}").hover()
    eventually(lambda: owned_by_plotly(page, element_id), timeout_s=30)


# --------------------------------------------------------------------------- colour maths

def channel(c):
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb):
    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def parse_rgb(text):
    text = text.strip()
    if text.startswith("#"):
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(float(x) for x in re.findall(r"[\d.]+", text)[:3])


def scale_colours(name, reverse=False):
    """256 colours along a named Plotly scale (the build's table, the one both renderers use)."""
    from build import scale_stops

    stops = scale_stops(name)
    out = []
    for i in range(256):
        t = i / 255
        for (t0, c0), (t1, c1) in zip(stops, stops[1:]):
            if t <= t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 0
                out.append(tuple(a + (b - a) * f for a, b in zip(c0, c1)))
                break
    return out


# --------------------------------------------------------------------------- 1. the canvas stand-in

def test_canvas_stand_in_shows_the_engines_numbers(page, server):
    """Before Plotly: the heatmap and the similarity map are canvases from the same figure dict,
    with the build's numbers first and the worker's after, data-source saying which."""
    page.goto(server.url)
    wait_source(page, HEATMAP, "build")
    figure_matches(page, HEATMAP, ref.table("learned"), 1e-12)  # numbers first, also off screen
    painted(page, HEATMAP)
    assert drawn_on_canvas(page, HEATMAP)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    wait_source(page, SIMILARITY, "pyodide")
    assert page.evaluate("typeof window.Plotly") == "undefined", "Plotly loaded before it was needed"
    assert drawn_on_canvas(page, HEATMAP) and drawn_on_canvas(page, SIMILARITY)
    figure_matches(page, HEATMAP, ref.table("learned"), 1e-9)
    # The stand-in reads the same spec: the title, the selection, the colour scale.
    layout = page.evaluate(f"document.getElementById('{HEATMAP}').layout")
    assert "Learned" in layout["title"]["text"]
    selection = next(s for s in layout["shapes"] if s["name"] == "selection")
    assert selection["y0"] == pytest.approx(5.5) and selection["y1"] == pytest.approx(6.5)  # patch 5 is row 6
    assert page.get_attribute(f"#{HEATMAP} > canvas", "role") == "img"
    assert page.get_attribute(f"#{HEATMAP} > canvas", "aria-label").strip()
    # A strategy change, still without Plotly: new numbers on the canvas. (Chosen without a
    # pointer: pointing at a component is what loads Plotly.)
    page.get_by_role("radio", name="Sinusoidal", exact=True).dispatch_event("click")
    figure_matches(page, HEATMAP, ref.table("sinusoidal"), 1e-9)
    assert drawn_on_canvas(page, HEATMAP) and page.evaluate("typeof window.Plotly") == "undefined"
    # The canvas shows the cells the figure holds: a cell's colour changes with its value.
    pixels = page.evaluate(f"""() => {{
        const c = document.querySelector('#{HEATMAP} > canvas'), ctx = c.getContext('2d');
        const d = ctx.getImageData(0, 0, c.width, c.height).data; const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
        return seen.size; }}""")
    assert pixels > 20


def test_every_canvas_figure_fits_its_canvas(page, server):
    """The stand-in keeps every part of a figure inside its canvas: nothing (a colour bar's
    title, a tick label) is cut at the right edge, where the colour bars stand."""
    page.goto(server.url)
    ids = page.evaluate("[...document.querySelectorAll('.plot[id]')].map((e) => e.id)")
    fitted = []
    for fid in ids:
        if not page.evaluate("id => document.getElementById(id).checkVisibility()", fid):
            continue  # in a closed section: drawn when opened
        painted(page, fid)
        if not drawn_on_canvas(page, fid):
            continue  # Plotly's
        # Pixels of the last 4 CSS pixels' columns that differ from the paper (the top-left pixel).
        ink = page.evaluate("""(id) => { const c = document.querySelector(`#${id} > canvas`), x = c.getContext('2d');
            const band = Math.ceil(4 * c.width / c.clientWidth), d = x.getImageData(c.width - band, 0, band, c.height).data;
            const bg = x.getImageData(0, 0, 1, 1).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 24) n++;
            return n; }""", fid)
        assert ink == 0, f"{fid}: {ink} pixels drawn at the canvas's right edge (cut off)"
        fitted.append(fid)
    assert len(fitted) >= 10, fitted


def test_a_click_during_the_hand_over_is_not_lost(page, server):
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    painted(page, HEATMAP)
    assert drawn_on_canvas(page, HEATMAP)
    page.evaluate("document.querySelector('[role=tab][data-step=patch]').click()")  # no pointer yet
    # Pointing at the component starts Plotly's download; the clicks land while it loads,
    # evaluates and takes the figures over.
    page.locator(f"#{HEATMAP}").scroll_into_view_if_needed()
    page.locator(f"#{HEATMAP}").hover()
    page.get_by_role("radio", name="2D-Aware", exact=True).click()
    page.get_by_role("button", name="Patch 9 (row 2, column 1)").click()
    eventually(lambda: owned_by_plotly(page, HEATMAP), timeout_s=30)
    eventually(lambda: owned_by_plotly(page, SIMILARITY), timeout_s=30)
    figure_matches(page, HEATMAP, ref.table("sincos2d"), 1e-9)
    want = cosine_similarity_map(ref.table("sincos2d"), 4, 4, 9, num_prefix_tokens=1)
    figure_matches(page, SIMILARITY, want, 1e-9)
    assert "sin-cos" in page.evaluate(f"document.getElementById('{HEATMAP}').layout.title.text")
    shapes = page.evaluate(f"document.getElementById('{HEATMAP}').layout.shapes")
    assert [s["y0"] for s in shapes if s["name"].startswith("selection")] == [9.5, 9.5]
    assert page.get_attribute(f"#{HEATMAP}", "data-source") == "pyodide"
    assert not drawn_on_canvas(page, HEATMAP)


def test_hover_waits_for_plotly_then_works(page, server):
    page.goto(server.url)
    wait_ready(page)
    bring_plotly(page)
    el = page.locator(f"#{HEATMAP}")
    box = page.evaluate(f"""() => {{ const el = document.getElementById('{HEATMAP}'), L = el._fullLayout,
        r = el.getBoundingClientRect(); return [r.left + L.xaxis._offset, r.top + L.yaxis._offset, L.xaxis._length, L.yaxis._length]; }}""")
    left, top, width, height = box
    hover = el.locator(".hoverlayer .hovertext")
    page.mouse.move(left + width * 0.5, top + height * 0.5)
    hover.wait_for(timeout=5_000)
    assert "dimension" in hover.text_content() and "value" in hover.text_content()


# --------------------------------------------------------------------------- 2. the worker's photograph

def test_the_worker_decodes_the_photograph_and_the_default_input_bit_for_bit(page, server):
    from PIL import Image

    page.goto(server.url)
    wait_ready(page)
    assert page.evaluate("window.peEngine.sourceReady") is True  # no round trip through the page
    [png] = sorted(DIST.glob("images/input-*.png"))
    with Image.open(png) as im:
        build_input = list(im.convert("RGB").tobytes())
    cpython = ref.views.model_input(list(ref.source_pixels()), ref.SOURCE_SIZE, 64)
    assert build_input == cpython  # the build's PNG holds exactly what the engine computes
    primed = page.evaluate("window.peEngine.call('model_input', {image_size: 64}).then((p) => Array.from(p))")
    assert primed == cpython, "the input the worker decoded differs from the engine's"
    # Another size is computed in Pyodide from the photograph the worker decoded.
    other = page.evaluate("window.peEngine.call('model_input', {image_size: 32}).then((p) => Array.from(p))")
    assert other == ref.views.model_input(list(ref.source_pixels()), ref.SOURCE_SIZE, 32)
    # The lossless WebP the page shows has the PNG's pixels.
    same = page.evaluate("""async () => {
        const pixels = async (src) => { const b = await createImageBitmap(await (await fetch(src)).blob(),
                                                   { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
            const c = new OffscreenCanvas(b.width, b.height), x = c.getContext('2d'); x.drawImage(b, 0, 0);
            return Array.from(x.getImageData(0, 0, b.width, b.height).data); };
        const img = document.querySelector('[data-input-image]');
        const webp = img.parentElement.querySelector('source').srcset;
        const [a, b] = await Promise.all([pixels(webp), pixels(img.src)]);
        return [img.currentSrc.endsWith('.webp'), a.length === b.length && a.every((v, i) => v === b[i])]; }""")
    assert same == [True, True]
    # The page itself never asked for the 384 px photograph: the worker did.
    page_requests = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    assert not any("astronaut-" in u for u in page_requests), page_requests


# --------------------------------------------------------------------------- 3. the runtime never competes

NETINFO = """
  Object.defineProperty(Navigator.prototype, 'connection', { configurable: true, get: () => ({
    effectiveType: %(type)r, downlink: %(downlink)s, rtt: %(rtt)s, saveData: %(save)s,
    addEventListener() {}, removeEventListener() {} }) });
  window.__runtimeAt = null;
  window.__loadAt = null;
  addEventListener('load', () => { window.__loadAt = performance.now(); });
"""


STATUS_LOG = """
  window.__statusLog = [];
  new MutationObserver(() => {
    const n = document.querySelector('[data-engine-status]');
    if (!n) return;
    const last = window.__statusLog.at(-1), state = n.dataset.state || '', text = n.textContent.trim();
    if (!last || last[1] !== state || last[2] !== text) window.__statusLog.push([performance.now(), state, text]);
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true,
                         attributeFilter: ['data-state'] });
"""


def runtime_requests(page):
    return [u for u in page.guard.requests if RUNTIME.search(u)]


@pytest.mark.parametrize("connection", ["save-data", "3g"])
def test_slow_connection_or_save_data_holds_the_runtime_back(page, server, connection):
    save = connection == "save-data"
    page.add_init_script(NETINFO % {"type": "4g" if save else "3g", "downlink": 10 if save else 0.4,
                                    "rtt": 50 if save else 400, "save": "true" if save else "false"})
    page.add_init_script(STATUS_LOG)
    page.goto(server.url, wait_until="commit")
    status = page.locator("[data-engine-status]")
    # The article and the build's figures are all there meanwhile.
    wait_source(page, HEATMAP, "build")
    page.wait_for_load_state("load")
    if save:
        expect(status).to_have_attribute("data-state", "waiting")
        text = status.text_content()
        assert "Data Saver is on" in text and "computed when this page was built" in text and " MB" in text, text
        page.wait_for_timeout(1500)
        assert runtime_requests(page) == [], "Save-Data: the runtime was downloaded unasked"
        assert status.get_attribute("data-state") == "waiting"
        # Using a figure starts it.
        page.get_by_role("radio", name="Sinusoidal", exact=True).check()
    wait_ready(page)
    assert runtime_requests(page), "the runtime never came"
    load_at = page.evaluate("window.__loadAt")
    booted = page.evaluate("window.peBoot.early.booted")
    assert booted["at"] >= load_at - 1, (booted, load_at)  # the runtime waited for the article
    assert booted["why"] == ("reader" if save else "page loaded")
    said = " | ".join(text for _, _, text in page.evaluate("window.__statusLog"))
    assert ("Data Saver is on" in said) if save else ("connection looks slow" in said), said
    if save:
        figure_matches(page, HEATMAP, ref.table("sinusoidal"), 1e-9)
    wait_source(page, HEATMAP, "pyodide")


def test_fast_connection_boots_at_once(page, server):
    page.add_init_script(NETINFO % {"type": "4g", "downlink": 10, "rtt": 50, "save": "false"})
    page.goto(server.url)
    wait_ready(page)
    started = page.evaluate("window.peBoot.early.booted")  # no hold: before the page was parsed
    assert started["why"] == "fast connection"
    assert started["at"] < page.evaluate("performance.getEntriesByType('navigation')[0].domInteractive")


def test_a_real_slow_network_is_detected(page, server):
    """Chromium's own estimate under DevTools network emulation (no navigator override)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 450,
                                                  "downloadThroughput": 400_000 / 8, "uploadThroughput": 200_000 / 8})
    page.add_init_script(STATUS_LOG)
    page.goto(server.url, wait_until="commit")
    hold = eventually(lambda: page.evaluate("window.peBoot && window.peBoot.early.hold"), timeout_s=30)
    assert hold == "slow"
    expect(page.locator("[data-engine-status]")).to_contain_text("connection looks slow", timeout=60_000)
    assert runtime_requests(page) == [] or page.evaluate("window.peBoot.early.booted.why") == "page loaded"
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    wait_ready(page)


# --------------------------------------------------------------------------- 4. first paint

def test_no_intl_on_the_first_render(page, server):
    page.add_init_script("""
      window.__intl = [];
      const note = (name) => function (...args) { window.__intl.push(name + ' ' + new Error().stack.split('\\n')[2]);
                                                  return this.__orig(...args); };
      for (const [proto, name] of [[Number.prototype, 'toLocaleString'], [Date.prototype, 'toLocaleString'],
                                    [Date.prototype, 'toLocaleDateString'], [String.prototype, 'localeCompare']]) {
        const orig = proto[name];
        proto[name] = function (...args) { window.__intl.push(name); return orig.apply(this, args); };
      }
      for (const name of ['NumberFormat', 'DateTimeFormat', 'Collator', 'PluralRules']) {
        const Orig = Intl[name];
        Intl[name] = function (...args) { window.__intl.push('Intl.' + name); return new Orig(...args); };
      }
    """)
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    page.get_by_role("tab", name="Input").click()
    assert page.evaluate("window.__intl") == []


def test_no_layout_shift_while_scrolling_through_the_article(page, server):
    page.add_init_script("""
      window.__shifts = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__shifts.push(
        [e.startTime, e.value, e.hadRecentInput, e.sources.map((s) => s.node && (s.node.id || s.node.className || s.node.nodeName))])))
        .observe({ type: 'layout-shift', buffered: true });
    """)
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    page.wait_for_timeout(500)
    # Only what is below the first screen is rendered late (content-visibility).
    assert page.evaluate("getComputedStyle(document.querySelector('.prose > .stepper ~ p')).contentVisibility") == "auto"
    height = page.evaluate("document.documentElement.scrollHeight")
    for _ in range(60):
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(60)
        if page.evaluate("scrollY + innerHeight >= document.documentElement.scrollHeight - 2"):
            break
    page.wait_for_timeout(500)
    shifts = page.evaluate("window.__shifts")
    cls = sum(v for _, v, recent, _ in shifts if not recent)
    print(f"\nscrolled {height} px: {len(shifts)} layout shifts, CLS {cls:.4f}")
    assert cls <= 0.01, shifts


# --------------------------------------------------------------------------- 5. figure chrome

WINDOW_OPEN = """
  window.__opened = [];
  const open = window.open;
  window.open = (...args) => { window.__opened.push(String(args[0])); return null; };
"""


def test_no_plotly_chrome_and_nothing_leads_elsewhere(page, server):
    page.add_init_script(WINDOW_OPEN)
    popups = []
    page.on("popup", lambda p: popups.append(p.url))
    page.goto(server.url)
    wait_ready(page)
    bring_plotly(page)
    bring_plotly(page, SIMILARITY)
    for fid in ("relative-bias-0-index", "permutation-demo-0-bars", "resolution-change-0-channel_new"):
        scroll_to(page, f"#{fid}")
        eventually(lambda: owned_by_plotly(page, fid), timeout_s=30)
    # Hover, drag and double-click the heatmap, as a reader might.
    box = page.locator(f"#{HEATMAP}").bounding_box()
    page.locator(f"#{HEATMAP}").scroll_into_view_if_needed()
    box = page.locator(f"#{HEATMAP}").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.locator(".modebar, .modebar-btn, .modebar-container *").count() == 0
    assert page.locator(".plot a, .plot [target], .plot form, .plot iframe").count() == 0
    origin = server.url.rstrip("/")
    foreign = page.evaluate("""(origin) => [...document.querySelectorAll('.plot-figure [href], .plot-figure [src], .plot-figure [action]')]
        .map((e) => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))
        .filter((u) => u && !u.startsWith('data:') && !u.startsWith('blob:') && !new URL(u, location.href).href.startsWith(origin))""", origin)
    assert foreign == []
    text = page.evaluate("[...document.querySelectorAll('.plot')].map((p) => p.textContent).join(' ')")
    assert "plotly" not in text.lower() and "edit chart" not in text.lower()
    assert page.evaluate("window.__opened") == [] and popups == []


def test_one_tab_stop_per_figure_and_a_local_png(page, server, tmp_path):
    page.add_init_script(WINDOW_OPEN)
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, SIMILARITY, "pyodide")

    def stops():
        return page.evaluate("""() => [...document.querySelectorAll('.plot')].map((p) => [p.id,
            [...p.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
              .filter((e) => e.tabIndex >= 0 && !e.disabled && e.checkVisibility()).length])""")

    for fid, n in stops():
        assert n <= 1, (fid, n)
    # A PNG made from the canvas, before Plotly…
    button = page.get_by_label("Position similarity", exact=True).get_by_role("button", name="Download PNG")
    with page.expect_download() as info:
        button.click()
    path = tmp_path / "canvas.png"
    info.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and info.value.suggested_filename.endswith(".png")
    assert info.value.url.startswith("blob:")
    # …and by Plotly, once it owns the figure; still one tab stop.
    bring_plotly(page, SIMILARITY)
    for fid, n in stops():
        assert n <= 1, (fid, n)
    with page.expect_download() as info:
        page.get_by_label("Position similarity", exact=True).get_by_role("button", name="Download PNG").click()
    path = tmp_path / "plotly.png"
    info.value.save_as(path)
    from PIL import Image
    with Image.open(path) as im:
        assert im.width > 300 and im.height > 300
    assert page.evaluate("window.__opened") == []


def figure_text_contrast(page, element_id):
    """(worst contrast of the figure's text against its paper, background colour) as drawn."""
    if owned_by_plotly(page, element_id):
        fills, paper = page.evaluate("""(id) => { const el = document.getElementById(id);
            const fills = [...el.querySelectorAll('.main-svg text')].filter((t) => t.textContent.trim())
              .map((t) => getComputedStyle(t).fill);
            return [fills, el._fullLayout.paper_bgcolor]; }""", element_id)
        assert fills, element_id
        bg = parse_rgb(paper)
        return min(contrast(parse_rgb(f), bg) for f in fills), bg
    # A canvas: the text colour is the pixel that differs most from the paper in the title band.
    bg, text = page.evaluate("""(id) => { const c = document.querySelector(`#${id} > canvas`), x = c.getContext('2d');
        const d = x.getImageData(0, 0, c.width, c.height).data, bg = [d[0], d[1], d[2]];
        const band = x.getImageData(0, 0, Math.floor(c.width * 0.6), Math.floor(28 * c.height / c.clientHeight)).data;
        let best = bg, far = -1;
        for (let i = 0; i < band.length; i += 4) { const dist = Math.abs(band[i] - bg[0]) + Math.abs(band[i + 1] - bg[1]) + Math.abs(band[i + 2] - bg[2]);
          if (dist > far) { far = dist; best = [band[i], band[i + 1], band[i + 2]]; } }
        return [bg, best]; }""", element_id)
    return contrast(text, bg), tuple(bg)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_figure_text_contrast_and_selection_outline(browser, server, scheme):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = ctx.new_page()
        page.goto(server.url)
        wait_ready(page)
        wait_source(page, SIMILARITY, "pyodide")
        page_bg = parse_rgb(page.evaluate("getComputedStyle(document.querySelector('.component')).backgroundColor"))
        worst = {}
        for fid in (HEATMAP, SIMILARITY):  # the canvas stand-ins
            painted(page, fid)
            worst[f"{fid} canvas"], bg = figure_text_contrast(page, fid)
            assert contrast(bg, page_bg) < 1.05  # the paper is the page's
        bring_plotly(page)
        bring_plotly(page, SIMILARITY)
        for fid in (HEATMAP, SIMILARITY, "relative-bias-0-index", "permutation-demo-0-bars", "rope-shift-0-scores"):
            page.locator(f"#{fid}").scroll_into_view_if_needed()
            eventually(lambda: owned_by_plotly(page, fid), timeout_s=30)
            worst[fid], bg = figure_text_contrast(page, fid)
        print(f"\n{scheme}: worst figure-text contrast " + ", ".join(f"{k} {v:.2f}" for k, v in worst.items()))
        assert min(worst.values()) >= 4.5, worst
        # The selection outline: two rings far enough apart that one of them has 3:1 against
        # any colour of the scale under it (WCAG technique C40).
        for fid in (HEATMAP, SIMILARITY):
            strokes = page.evaluate("""(id) => [...document.querySelectorAll(`#${id} .shapelayer path`)]
                .map((p) => getComputedStyle(p).stroke)""", fid)
            rings = [parse_rgb(s) for s in strokes]
            assert len(rings) == 2, strokes
            assert contrast(*rings) >= 9, rings
            trace = page.evaluate(f"document.getElementById('{fid}').data[0]")
            for colour in scale_colours(trace["colorscale"]):
                assert max(contrast(colour, r) for r in rings) >= 3, (fid, colour, rings)
    finally:
        ctx.close()


def test_switching_the_system_theme_restyles_every_figure(page, server):
    page.emulate_media(color_scheme="light")
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, SIMILARITY, "pyodide")
    colours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        colours[scheme] = (parse_rgb(page.evaluate("getComputedStyle(document.body).backgroundColor")),
                           parse_rgb(page.evaluate("getComputedStyle(document.body).color")))
    assert colours["light"] != colours["dark"]

    def canvas_follows(scheme):
        c, bg = figure_text_contrast(page, SIMILARITY)
        return bg == colours[scheme][0] and c >= 4.5

    page.emulate_media(color_scheme="light")
    painted(page, SIMILARITY)
    page.emulate_media(color_scheme="dark")

    # On the canvas (before Plotly): dark, then light again.
    eventually(lambda: canvas_follows("dark"))
    page.emulate_media(color_scheme="light")
    eventually(lambda: canvas_follows("light"))
    # Drawn by Plotly: paper and text follow the switch.
    bring_plotly(page)
    for scheme in ("dark", "light"):
        page.emulate_media(color_scheme=scheme)
        bg, fg = colours[scheme]
        eventually(lambda: parse_rgb(page.evaluate(f"document.getElementById('{HEATMAP}')._fullLayout.paper_bgcolor")) == bg)
        eventually(lambda: parse_rgb(page.evaluate(f"getComputedStyle(document.querySelector('#{HEATMAP} .gtitle')).fill")) == fg)
        eventually(lambda: figure_text_contrast(page, HEATMAP)[0] >= 4.5)


# --------------------------------------------------------------------------- 6. hosts

def test_precompressed_siblings_decompress_to_the_same_bytes(site_dir):
    siblings = sorted(site_dir.rglob("*.br")) + sorted(site_dir.rglob("*.gz"))
    siblings = [p for p in siblings if not p.name.startswith("snapshot-")]
    for must in ("vendor/pyodide-*/pyodide.asm.wasm", "vendor/pyodide-*/pyodide.asm.mjs", "vendor/plotly-*/*.js",
                 "assets/site-*/js/main.js", "assets/site-*/js/plots.js", "assets/site-*/css/site.css", "index.html"):
        [original] = sorted(site_dir.glob(must))
        for suffix in (".br", ".gz"):
            assert original.with_name(original.name + suffix).is_file(), (must, suffix)
    for sib in siblings:
        original = sib.with_name(sib.name[: -len(sib.suffix)])
        data = brotli.decompress(sib.read_bytes()) if sib.suffix == ".br" else gzip.decompress(sib.read_bytes())
        assert data == original.read_bytes(), sib
        assert len(sib.read_bytes()) < len(data), sib


@pytest.mark.skipif(not nginx_available(), reason="nginx is not installed (make test installs it)")
def test_nginx_serves_the_precompressed_files_with_the_sites_snippet(site_dir, tmp_path):
    from build import CSP

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- nginx:begin -->\n```nginx\n(.*?)```\n<!-- nginx:end -->", readme, re.S)
    assert block and block.group(1) == (site_dir / "_nginx.conf").read_text(), "README's snippet is not the build's"
    wasm = next(site_dir.glob("vendor/pyodide-*/pyodide.asm.wasm")).relative_to(site_dir).as_posix()
    main = next(site_dir.glob("assets/site-*/js/main.js")).relative_to(site_dir).as_posix()
    with Nginx(site_dir, tmp_path / "nginx", csp_header=CSP) as srv:
        for base in (srv.url, srv.sub_url):
            for rel, accept, want in [(wasm, "br, gzip", "br" if has_brotli() else "gzip"), (wasm, "gzip", "gzip"),
                                      (main, "gzip, deflate, br, zstd", "br" if has_brotli() else "gzip"),
                                      ("index.html", "gzip", "gzip"), ("index.html", "", None)]:
                req = urllib.request.Request(base + rel, headers={"Accept-Encoding": accept} if accept else {})
                with urllib.request.urlopen(req) as r:
                    body, h = r.read(), r.headers
                assert h.get("Content-Encoding") == want, (base + rel, accept, dict(h))
                if want:
                    assert "Accept-Encoding" in (h.get("Vary") or "")
                plain = brotli.decompress(body) if want == "br" else gzip.decompress(body) if want == "gzip" else body
                assert plain == (site_dir / rel).read_bytes()
                assert h["Content-Security-Policy"] == CSP
                assert h["X-Content-Type-Options"] == "nosniff"
                cache = h["Cache-Control"]
                assert cache == ("no-cache" if rel.endswith(".html") else "public, max-age=31536000, immutable"), (rel, cache)
                ctype = h["Content-Type"].split(";")[0]
                assert ctype == {"wasm": "application/wasm", "js": "text/javascript", "html": "text/html"}[rel.rsplit(".", 1)[1]]


def test_headers_file_for_static_hosts(site_dir):
    from build import CSP

    text = (site_dir / "_headers").read_text()
    rules, current = {}, None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            current = line.strip()
            rules[current] = {}
        else:
            name, _, value = line.strip().partition(": ")
            rules[current][name] = value
    assert rules["/*"]["Content-Security-Policy"] == CSP
    for folder in ("assets", "vendor", "images"):
        assert rules[f"/{folder}/*"]["Cache-Control"] == "public, max-age=31536000, immutable"
        for path in (site_dir / folder).rglob("*"):  # everything there carries a hash or a version
            if path.is_file():
                assert re.search(r"-[0-9a-f]{12}|-\d+\.\d+\.\d+/", path.relative_to(site_dir).as_posix()), path
    assert "Cache-Control" not in rules["/*"]  # hosts join repeated headers: no contradictions
