"""Beyond the seed (issue 5): similarity, sizes and presets, resolution change, permutation,
the reader's own image, shareable fragments, Swin bias and RoPE — numbers checked against
pe_engine under CPython."""
import io
import re

import pytest
from playwright.sync_api import expect

import engine_reference as ref
from conftest import eventually, figure_data, figure_matches, wait_ready, wait_source, scroll_to
from pe_engine import (cosine_similarity_map, learned, relative_position_index, resample, sincos_2d,
                       sinusoidal_1d)

HEATMAP = "vit-stepper-0-heatmap"
SIMILARITY = "vit-stepper-0-similarity"


def poll(page, js, predicate, timeout_ms=30_000):
    """Evaluate ``js`` until ``predicate(value)`` holds (string predicates are CSP-blocked)."""
    value = None
    for _ in range(timeout_ms // 100):
        value = page.evaluate(f"() => {{ try {{ return {js}; }} catch (e) {{ return null; }} }}")
        if predicate(value):
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out; last value: {value!r}")


def heatmap_rows(page):
    return page.evaluate(f"(document.getElementById('{HEATMAP}').data || [{{z: []}}])[0].z.length")


def open_parameters(page):
    page.get_by_text("Change the sizes, or use your own image").click()
    expect(page.get_by_label("Model preset")).to_be_enabled(timeout=45_000)


def test_position_similarity_follows_patch_and_strategy(page, server):
    page.goto(server.url)
    figure = page.get_by_label("Position similarity", exact=True)
    assert figure.count() == 1
    page.get_by_role("tab", name="Patch").click()
    for label, strategy in [("Sinusoidal", "sinusoidal"), ("2D-Aware", "sincos2d")]:
        page.get_by_label(label, exact=True).check()
        page.get_by_role("button", name="Patch 9 (row 2, column 1)").click()
        table = ref.table(strategy)
        want = cosine_similarity_map(table, 4, 4, 9, num_prefix_tokens=1)
        got = poll(page, f"document.getElementById('{SIMILARITY}').data[0].z",
                   lambda z: z and ref.max_abs_diff(z, want) < 1e-9)
        assert got[2][1] == pytest.approx(1.0)
    # Small multiples: one 4×4 tile per patch, with a blank gutter.
    page.locator("summary", has_text="Similarity of every patch").click()
    tiles = eventually(lambda: figure_data(page, "vit-stepper-0-tiles"))
    assert len(tiles) == 4 * 5 - 1 and len(tiles[0]) == 4 * 5 - 1
    assert tiles[4][0] is None
    assert tiles[0][0] == pytest.approx(1.0)  # patch 0 with itself


def test_parameters_presets_table_and_invalid_combinations(page, server):
    page.goto(server.url)
    wait_ready(page)
    open_parameters(page)
    for name in ["Image size", "Patch size", "Embedding dimension", "Model preset"]:
        assert page.get_by_label(name).count() == 1
    presets = page.get_by_label("Model preset").locator("option").all_text_contents()
    for name in ["ViT-Ti/16", "ViT-S/16", "ViT-B/16", "ViT-L/16", "ViT-H/14"]:
        assert name in presets
    # Invalid: 14 does not divide 64. The message is inline and the last view stays.
    page.locator(f"#{HEATMAP}[data-source=pyodide]:not([data-busy=true])").wait_for(state="attached")
    before = figure_matches(page, HEATMAP, ref.table("learned"), 1e-12)
    page.get_by_label("Patch size").select_option("14")
    error = page.locator("[data-param-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("does not divide")
    assert figure_data(page, HEATMAP) == before
    # Invalid: D = 10 is not a multiple of 4.
    page.get_by_label("Patch size").select_option("16")
    page.get_by_label("Embedding dimension").fill("10")
    page.get_by_label("Embedding dimension").dispatch_event("change")
    expect(error).to_contain_text("multiple of 4")
    assert figure_data(page, HEATMAP) == before
    # A valid custom size updates the dimension table and the view.
    page.get_by_label("Embedding dimension").fill("12")
    page.get_by_label("Image size").select_option("96")
    expect(error).to_be_hidden()
    poll(page, "document.getElementById('vit-stepper-0-heatmap').data[0].z.length", lambda n: n == 37)
    table = page.locator("[data-dimension-table]")
    expect(table.locator("[data-dim=num_patches]")).to_have_text("36")
    expect(table.locator("[data-dim=E_shape]")).to_have_text("768 × 12")
    figure_matches(page, HEATMAP, ref.table("learned", 96, 16, 12), 1e-12)


def test_vit_b16_full_heatmap_from_the_worker(page, server):
    page.goto(server.url)
    wait_ready(page)
    open_parameters(page)
    page.get_by_label("Model preset").select_option("ViT-B/16")
    poll(page, f"document.getElementById('{HEATMAP}').data[0].z.length", lambda n: n == 197)
    table = page.locator("[data-dimension-table]")
    expect(table.locator("[data-dim=seq_len]")).to_have_text("197")
    expect(table.locator("[data-dim=E_pos_shape]")).to_have_text("197 × 768")
    expect(table.locator("[data-dim=E_params]")).to_have_text("590,592")
    expect(table.locator("[data-dim=E_pos_params]")).to_have_text("151,296")
    page.get_by_label("2D-Aware", exact=True).check()
    z = poll(page, f"document.getElementById('{HEATMAP}').layout.title.text.includes('sin-cos') && "
                   f"document.getElementById('{HEATMAP}').data[0].z", lambda z: z and len(z) == 197)
    assert len(z[0]) == 768
    assert ref.max_abs_diff(z, sincos_2d(14, 14, 768, cls_token=True)) < 1e-9
    assert page.locator(f"#{HEATMAP}").get_attribute("data-source") == "pyodide"
    # The page stayed responsive: a step change is immediate.
    page.get_by_role("tab", name="Input").click()
    expect(page.locator("[data-panel=input]")).to_be_visible(timeout=1000)


def test_resolution_change(page, server):
    page.goto(server.url)
    wait_ready(page)
    root = page.locator("[data-component=resolution-change]")
    root.scroll_into_view_if_needed()
    assert "interpolat" in root.text_content()
    old = learned(17, 8, seed=0)
    root.locator("summary", has_text="The whole tables, before and after").click()
    for method in ["timm", "deit", "jax"]:
        root.get_by_label("Resampling", exact=True).select_option(method)
        root.get_by_label("Fine-tune resolution", exact=True).select_option("8")
        want = resample(old, (8, 8), (4, 4), num_prefix_tokens=1, method=method)
        z = poll(page, "document.getElementById('resolution-change-0-learned_new').data[0].z",
                 lambda z: z and len(z) == 65 and ref.max_abs_diff(z, want) < 1e-12)
        assert z[0] == pytest.approx(old[0])  # [CLS] passes through
    poll(page, "document.getElementById('resolution-change-0-sinusoidal_new').data[0].z.length", lambda n: n == 65)
    figure_matches(page, "resolution-change-0-sinusoidal_new", sinusoidal_1d(65, 8), 1e-9)
    centre = 4 * 8 + 4
    want = cosine_similarity_map(sincos_2d(8, 8, 8, cls_token=True), 8, 8, centre, num_prefix_tokens=1)
    figure_matches(page, "resolution-change-0-similarity_sincos2d", want, 1e-9)
    assert page.locator("#resolution-change-0-learned_new").get_attribute("data-source") == "pyodide"


def test_permutation_invariance(page, server):
    page.goto(server.url)
    wait_ready(page)
    root = page.locator("[data-component=permutation-demo]")
    root.scroll_into_view_if_needed()
    order_before = root.locator("[data-order]").text_content()
    root.get_by_role("button", name="Shuffle patches").click()
    expect(root.locator("[data-order]")).not_to_have_text(order_before)
    result = root.locator("[data-result]")
    text = result.text_content()
    diff = float(re.search(r"is ([-0-9.e+]+)", text).group(1))
    assert "Without" in text and diff < 1e-9
    root.get_by_label("Add positional embedding").check()
    text = result.text_content()
    diff = float(re.search(r"is ([-0-9.e+]+)", text).group(1))
    assert "With positional" in text and diff > 1e-3
    assert page.locator("#permutation-demo-0-bars").get_attribute("data-source") == "pyodide"


def png_bytes(size, colour_fn):
    from PIL import Image

    im = Image.new("RGB", (size, size))
    im.putdata([colour_fn(x, y) for y in range(size) for x in range(size)])
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue(), list(im.tobytes())


def test_own_image_good_and_bad_files(page, server, tmp_path):
    page.goto(server.url)
    wait_ready(page)
    open_parameters(page)
    message = page.locator("[data-upload-message]")
    upload = page.locator("[data-upload-input]")
    page.get_by_role("tab", name="Project").click()
    before = page.locator("[data-panel=project] .vec.token").text_content()
    # Not an image, though named .png.
    (tmp_path / "notes.png").write_text("hello, I am text")
    upload.set_input_files(str(tmp_path / "notes.png"))
    expect(message).to_contain_text("not a PNG, JPEG, GIF or WebP")
    # A broken PNG: the right signature, then garbage.
    data, _ = png_bytes(64, lambda x, y: (x * 4, y * 4, 128))
    (tmp_path / "broken.png").write_bytes(data[:60] + b"\x00" * 200)
    upload.set_input_files(str(tmp_path / "broken.png"))
    expect(message).to_contain_text("could not be decoded")
    assert page.locator("[data-panel=project] .vec.token").text_content() == before
    # A good image, exactly the source size, so the browser's decode is pixel-exact.
    data, pixels = png_bytes(384, lambda x, y: ((x * 2) % 256, (y * 3) % 256, (x + y) % 256))
    (tmp_path / "mine.png").write_bytes(data)
    upload.set_input_files(str(tmp_path / "mine.png"))
    expect(message).to_contain_text("Now showing")
    model_input = ref.views.model_input(pixels, 384, 64)
    want = ref.views.stepper_view(model_input, 64, 16, 8, 0, strategies=("learned",), selected=5)
    expect(page.locator("[data-panel=project] .vec.token")).not_to_have_text(before)
    got = [float(x) for x in page.locator("[data-panel=project] .vec.token .cell").all_text_contents()]
    assert got == pytest.approx([round(v, 3) for v in want["tokens"]["5"]], abs=1.5e-3)
    # The picture follows once the worker has sent the resized pixels (after the tokens).
    expect(page.locator("[data-input-image]")).to_have_attribute("src", re.compile(r"^blob:"))
    # Drag and drop goes through the same checks.
    page.get_by_role("button", name="Back to the original image").click()
    expect(page.locator("[data-panel=project] .vec.token")).to_have_text(before)


def test_fragment_restores_and_rejects(page, server):
    page.goto(server.url + "#step=addpos&pe=sincos2d&patch=9&size=64&p=16&d=8")
    expect(page.get_by_role("tab", name="Add Pos")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("2D-Aware", exact=True)).to_be_checked()
    expect(page.locator("[data-readout]")).to_contain_text(re.compile(r"Selected Patch:\s*9\D+Row:\s*2\D+Col:\s*1"))
    figure_matches(page, HEATMAP, ref.table("sincos2d"), 1e-12)
    # Malformed and out-of-range values fall back to the defaults.
    page.goto(server.url + "#step=evil&pe=nope&patch=999&size=abc&p=-3&d=7")
    page.reload()
    expect(page.get_by_role("tab", name="Input")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Learned (ViT)", exact=True)).to_be_checked()
    expect(page.locator("[data-readout]")).to_contain_text(re.compile(r"Selected Patch:\s*5\D"))
    # A view that needs the engine (ViT-B/16 sizes) is restored once it is ready.
    page.goto(server.url + "#step=addpos&pe=sinusoidal&patch=20&size=224&p=16&d=768")
    page.reload()
    wait_ready(page)
    poll(page, f"document.getElementById('{HEATMAP}').data[0].z.length", lambda n: n == 197)
    expect(page.locator("[data-readout]")).to_contain_text(re.compile(r"Selected Patch:\s*20\D+Row:\s*1\D+Col:\s*6"))


def test_swin_relative_bias_and_rope(page, server):
    page.goto(server.url)
    wait_ready(page)
    scroll_to(page, "[data-component=relative-bias]")  # figures draw near the screen
    wait_source(page, "relative-bias-0-index")
    index = figure_data(page, "relative-bias-0-index")
    assert index == relative_position_index(3, 3)
    bias = eventually(lambda: figure_data(page, "relative-bias-0-bias"))
    assert len(bias) == 9 and bias[0][0] == bias[4][4] == bias[8][8]  # same offset, same entry
    scroll_to(page, "[data-component=rope-shift]")
    wait_source(page, "rope-shift-0-scores")
    scores = eventually(lambda: figure_data(page, "rope-shift-0-scores"))
    assert len(scores) == 16
    # Shift invariance: every pair with the same offset scores the same.
    assert scores[0][1] == pytest.approx(scores[5][6], abs=1e-12)
    assert scores[1][0] == pytest.approx(scores[14][13], abs=1e-12)
    text = page.locator("[data-component=rope-shift]").text_content()
    assert re.search(r"at most \d\.\de-1[0-9]", text)
