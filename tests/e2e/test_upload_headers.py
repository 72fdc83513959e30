"""Upload size is known before decoding, or the file is refused (issue 15, item 9).

The three files of the issue, built as bytes (tests/upload_samples.py), go through
"Use your own image" on the built site in Chromium, with the live engine ready:
  - a 30-byte lossless WebP, and an extended (VP8X) one, of 16383 × 16383;
  - a JPEG whose frame header lies after 200 KB of XMP, declaring 12000 × 9000 (108 MP);
  - a GIF with a 1 × 1 logical screen and an 8000 × 8000 frame (48 KB).
Each is refused with a message naming the file and its size; the image and the figures
stay; the page's JS heap (CDP Runtime.getHeapUsage, after a forced GC) stays within a few
MB; and no Chromium process's peak resident memory (VmHWM in /proc, reset through
/proc/PID/clear_refs before the upload) grows by more than PEAK_GROWTH_MB. Decoding any of
these files takes 256 MB (the GIF) to 1 GB (the WebP) at least, all of it outside the JS
heap, so the process peak is what shows a decode; the heap shows a parser that held the file.

Good files are taken, with the centre square shown: lossy and lossless WebP, a
progressive JPEG with EXIF, an animated GIF, a JPEG whose frame header is beyond 64 KB,
and a JPEG turned by its EXIF orientation. The header size of every accepted case of the
unit test is also compared with the size Chromium decodes the file to.
"""
import os
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from conftest import figure_data, wait_ready, wait_source

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import upload_samples as samples  # noqa: E402

HEATMAP = "vit-stepper-0-heatmap"
PEAK_GROWTH_MB = 100   # a refused file is never decoded: no process grows by a decoded image
HEAP_GROWTH_MB = 8     # nor does the page's JS heap keep anything of the file


# --------------------------------------------------------------------------- memory


def chromium_processes():
    """pid → command line of every process descended from this test run (Playwright's
    driver, and the Chromium it launched: browser, zygotes, renderers, GPU, utilities)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    mine, grew = {os.getpid()}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in mine} - mine
        mine |= more
        grew = bool(more)
    out = {}
    for pid in mine - {os.getpid()}:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "chrom" in cmdline:
            out[pid] = cmdline
    return out


def status_kb(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class ProcessPeaks:
    """The peak resident memory of each Chromium process over a stretch of the test: the
    peak (VmHWM) is reset to the current size by writing 5 to /proc/PID/clear_refs. Where
    that is not allowed, the growth is measured from the old peak (a weaker check, but
    never a false alarm)."""

    def __init__(self):
        self.available = sys.platform.startswith("linux") and Path("/proc/self/status").exists()
        self.start = {}

    def reset(self):
        if not self.available:
            return
        self.start = {}
        for pid in chromium_processes():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
            peak = status_kb(pid, "VmHWM")  # the resident size now, if the reset worked
            if peak is not None:
                self.start[pid] = peak

    def growth_mb(self):
        """pid → (peak − peak at the reset) in MB, and the process's kind."""
        out = {}
        for pid, cmdline in chromium_processes().items():
            peak = status_kb(pid, "VmHWM")
            if peak is None or pid not in self.start:
                continue
            kind = next((part.split("=", 1)[1] for part in cmdline.split() if part.startswith("--type=")), "browser")
            out[pid] = ((peak - self.start[pid]) / 1024, kind)
        return out


def js_heap_mb(cdp):
    cdp.send("HeapProfiler.collectGarbage")
    usage = cdp.send("Runtime.getHeapUsage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {"used": usage["usedSize"] / 2**20, "total": usage["totalSize"] / 2**20,
            "backing": usage.get("backingStorageSize", 0) / 2**20, "metrics_used": metrics["JSHeapUsedSize"] / 2**20}


# --------------------------------------------------------------------------- the page


def open_page(page, server):
    page.goto(server.url)
    wait_ready(page)
    wait_source(page, HEATMAP, "pyodide")
    page.wait_for_timeout(300)


def choose(page, name, data, mime):
    page.get_by_label("Use your own image").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def settled_message(page, name, timeout_s=90):
    """The upload message once it says what happened to file ``name`` (refused, or in use)."""
    message = page.locator("[data-upload-message]")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = message.text_content() or ""
        if f'"{name}"' in text and ("The previous image stays" in text or text.startswith("Now showing")):
            return text
        page.wait_for_timeout(50)
    raise AssertionError(f"the upload message did not settle: {message.text_content()!r}")


@pytest.mark.parametrize("name", sorted(samples.hostile_files()))
def test_hostile_size_is_refused_before_decoding(page, server, name):
    data, mime, needle = samples.hostile_files()[name]
    open_page(page, server)
    image = page.locator("[data-input-image]")
    src_before = image.get_attribute("src")
    z_before = figure_data(page, HEATMAP)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    heap_before = js_heap_mb(cdp)
    peaks = ProcessPeaks()
    peaks.reset()

    choose(page, name, data, mime)
    text = settled_message(page, name)
    page.wait_for_timeout(500)  # anything still decoding would show in the peaks now
    growth = peaks.growth_mb()
    heap_after = js_heap_mb(cdp)
    worst = max(growth.items(), key=lambda item: item[1][0], default=(None, (0.0, "none")))
    print(f"\n{name} ({len(data)} bytes): {text!r}\n"
          f"  JS heap used {heap_before['used']:.1f} → {heap_after['used']:.1f} MB "
          f"(total {heap_before['total']:.1f} → {heap_after['total']:.1f} MB, array buffers "
          f"{heap_before['backing']:.1f} → {heap_after['backing']:.1f} MB); "
          f"largest process peak growth {worst[1][0]:.1f} MB ({worst[1][1]}) over {len(growth)} processes")

    assert text.startswith(f'"{name}"'), text
    assert needle in text, text
    assert text.endswith("The previous image stays."), text
    message = page.locator("[data-upload-message]")
    expect(message).to_have_attribute("data-kind", "error")
    assert image.get_attribute("src") == src_before
    expect(page.get_by_role("button", name="Back to the original image")).to_be_hidden()
    assert figure_data(page, HEATMAP) == z_before
    assert heap_after["used"] - heap_before["used"] < HEAP_GROWTH_MB, (heap_before, heap_after)
    assert heap_after["backing"] - heap_before["backing"] < HEAP_GROWTH_MB, (heap_before, heap_after)
    if peaks.available:
        assert growth, "no Chromium process found under this test run"
        assert worst[1][0] < PEAK_GROWTH_MB, f"a process grew by {worst[1][0]:.0f} MB: {growth}"
    # The page still takes a good file afterwards.
    choose(page, "after.png", samples.pillow_bytes(samples.centre_marked(500, 400), "PNG"), "image/png")
    assert settled_message(page, "after.png").startswith('Now showing "after.png"')


# --------------------------------------------------------------------------- good files

CENTRE, BORDER = (220, 40, 40), (30, 60, 200)


def good_files():
    """name → (bytes, MIME type): ordinary files, each a centre square of CENTRE between
    BORDER bands, larger than the 384-pixel source so the header size sets the crop."""
    marked = samples.centre_marked
    frames = [marked(600, 450)] + [marked(600, 450, centre=(40, 200, 40)) for _ in range(3)]
    # Stored 600 × 450 and turned a quarter by orientation 8: shown as 450 × 600, the centre
    # square still centred (the marking is symmetric).
    turned = marked(600, 450)
    return {
        "lossy.webp": (samples.pillow_bytes(marked(600, 450), "WEBP", quality=90), "image/webp"),
        "lossless.webp": (samples.pillow_bytes(marked(450, 620), "WEBP", lossless=True), "image/webp"),
        "progressive-exif.jpg": (samples.pillow_bytes(marked(640, 480), "JPEG", quality=92, progressive=True,
                                                      exif=samples.exif_bytes(1)), "image/jpeg"),
        "animated.gif": (samples.pillow_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:],
                                              duration=100, loop=0), "image/gif"),
        "metadata-first.jpg": (samples.jpeg_with_metadata_first(
            samples.pillow_bytes(marked(600, 450), "JPEG", quality=92),
            samples.xmp_segments(150_000) + samples.icc_segments(2)), "image/jpeg"),
        "turned-by-exif.jpg": (samples.pillow_bytes(turned, "JPEG", quality=92, exif=samples.exif_bytes(8)),
                               "image/jpeg"),
    }


MODEL_INPUT_PIXELS = """async () => {
  const img = document.querySelector('[data-input-image]');
  await img.decode();
  const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight), ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return Array.from(ctx.getImageData(0, 0, img.naturalWidth, img.naturalHeight).data);
}"""


@pytest.mark.parametrize("name", sorted(good_files()))
def test_good_file_is_taken_and_cropped_to_its_centre(page, server, name):
    data, mime = good_files()[name]
    open_page(page, server)
    image = page.locator("[data-input-image]")
    src_before = image.get_attribute("src")
    z_before = figure_data(page, HEATMAP)
    choose(page, name, data, mime)
    text = settled_message(page, name)
    assert text == f'Now showing "{name}" (centre square, resized in your browser).', text
    expect(page.locator("[data-upload-reset]")).not_to_have_attribute("hidden", "")
    page.wait_for_function("before => document.querySelector('[data-input-image]').src !== before", arg=src_before)
    wait_source(page, HEATMAP, "pyodide")
    assert figure_data(page, HEATMAP) == z_before  # the position table does not depend on the image
    # The model input is the centre square: every pixel near CENTRE (none of BORDER, none
    # of the black a crop off the picture's edge leaves).
    rgba = page.evaluate(MODEL_INPUT_PIXELS)
    pixels = [rgba[i:i + 3] for i in range(0, len(rgba), 4)]
    far = [p for p in pixels if max(abs(a - b) for a, b in zip(p, CENTRE)) > 60]
    assert not far, f"{len(far)} of {len(pixels)} model-input pixels are not the centre colour, e.g. {far[:3]}"


def test_header_size_is_the_size_chromium_decodes(page, server):
    """For every accepted case of the unit test (but the two at the 40 MP limit), the size
    checkFile gives is the size of createImageBitmap's bitmap, so the crop is centred."""
    import base64

    page.goto(server.url)
    page.wait_for_load_state("load")
    url = page.evaluate("performance.getEntriesByType('resource').map(e => e.name).find(n => n.endsWith('/upload.js'))")
    assert url, "upload.js was not loaded by the page"
    cases = {name: base64.b64encode(data).decode() for name, (data, (outcome, _)) in samples.cases().items()
             if outcome == "accepted" and "at-the-limit" not in name}
    got = page.evaluate("""async ([url, cases]) => {
      const { checkFile } = await import(url);
      const limits = JSON.parse(document.getElementById("page-data").textContent).components.instances
        .find((c) => c.image_limits).image_limits;  // as the stepper gets them
      const out = {};
      for (const [name, b64] of Object.entries(cases)) {
        const file = new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name);
        out[name] = { header: await checkFile(file, limits) };
        try {
          const bitmap = await createImageBitmap(file);
          out[name].decoded = [bitmap.width, bitmap.height];
          bitmap.close();
        } catch (err) {
          out[name].decoded = String(err);
        }
      }
      return out;
    }""", [url, cases])
    wrong = {name: v for name, v in got.items() if v["header"] != v["decoded"]}
    assert not wrong, wrong
    assert len(got) >= 15


LONGTASKS = """
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
"""


@pytest.mark.parametrize("name", ["garbage-16-mb.jpg", "frame-header-beyond-16-mb.jpg", "tiny-sub-blocks.gif"])
def test_longest_header_walk_keeps_the_page_responsive(page, server, tmp_path, name):
    """The parser's worst cases: a JPEG scanned to the 16 MB bound (bytes that are no marker,
    or some 300 metadata segments), and a 19 MB GIF of one-byte sub-blocks walked to its end. Each
    is settled within 5 s (under 1 s here), with no main-thread task over 200 ms."""
    data, (outcome, _) = samples.cases()[name]
    page.add_init_script(LONGTASKS)
    open_page(page, server)
    page.evaluate("window.__longtasks.length = 0")
    path = tmp_path / name  # a file on disk: the browser reads it itself, as it would a reader's
    path.write_bytes(data)
    start = page.evaluate("performance.now()")
    page.get_by_label("Use your own image").set_input_files(path)
    text = settled_message(page, name)
    elapsed = (page.evaluate("performance.now()") - start) / 1000
    tasks = [d for t, d in page.evaluate("window.__longtasks") if t >= start]
    print(f"\n{name} ({len(data) / 2**20:.1f} MB): {text!r} after {elapsed:.2f} s; "
          f"longest main-thread task {max(tasks, default=0):.0f} ms")
    assert ("Now showing" in text) == (outcome == "accepted"), text
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert max(tasks, default=0) < 200, tasks
