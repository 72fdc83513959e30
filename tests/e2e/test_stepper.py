"""The stepper on the built site (issue 4): steps, patches, strategies, numbers, runtime, a11y."""
import re

import pytest
from playwright.sync_api import expect

import engine_reference as ref
from conftest import ROOT, eventually, figure_matches, wait_ready, wait_source

HEATMAP = "vit-stepper-0-heatmap"
SIMILARITY = "vit-stepper-0-similarity"
TABS = ["Input", "Patch", "Project", "Flatten", "Add Pos"]


def stepper(page):
    return page.locator("#vit-stepper-0")


def selected_tab(page):
    return page.get_by_role("tab", selected=True).text_content().strip()


def visible_panel(page):
    return page.locator("[role=tabpanel]:not([hidden])").get_attribute("data-panel")


def readout(page):
    text = page.locator("[data-readout]").text_content()
    return tuple(int(x) for x in re.findall(r"Selected Patch:\s*(\d+).*Row:\s*(\d+).*Col:\s*(\d+)", text, re.S)[0])


def expect_readout(page, k, r, c):
    expect(page.locator("[data-readout]")).to_contain_text(re.compile(
        rf"Selected Patch:\s*{k}\D+Row:\s*{r}\D+Col:\s*{c}"))


def test_walk_every_step_by_buttons_and_keys(page, server):
    page.goto(server.url)
    tablist = page.get_by_role("tablist", name="Processing steps")
    assert [t.strip().split(" ", 1)[-1] for t in tablist.get_by_role("tab").all_text_contents()] == TABS
    assert selected_tab(page).endswith("Input") and visible_panel(page) == "input"
    nxt, prev = page.get_by_role("button", name="Next step"), page.get_by_role("button", name="Previous step")
    for expected in ["patch", "project", "flatten", "addpos"]:
        nxt.click()
        assert visible_panel(page) == expected
    assert nxt.is_disabled()
    for expected in ["flatten", "project", "patch", "input"]:
        prev.click()
        assert visible_panel(page) == expected
    # Arrow keys move between tabs (and wrap), Home/End jump.
    page.get_by_role("tab", name="Input").focus()
    page.keyboard.press("ArrowRight")
    assert visible_panel(page) == "patch" and page.evaluate("document.activeElement.dataset.step") == "patch"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert visible_panel(page) == "addpos"
    page.keyboard.press("Home")
    assert visible_panel(page) == "input"
    page.keyboard.press("End")
    assert selected_tab(page).endswith("Add Pos")
    # The step is kept in the URL fragment.
    assert "step=addpos" in page.evaluate("location.hash")


def test_select_patches_by_click_and_keyboard(page, server):
    page.goto(server.url)
    page.get_by_role("tab", name="Patch").click()
    expect_readout(page, 5, 1, 1)
    page.get_by_role("button", name="Patch 10 (row 2, column 2)").click()
    expect_readout(page, 10, 2, 2)
    assert page.get_by_role("button", name="Patch 10 (row 2, column 2)").get_attribute("aria-pressed") == "true"
    page.keyboard.press("ArrowRight")
    expect_readout(page, 11, 2, 3)
    page.keyboard.press("ArrowUp")
    expect_readout(page, 7, 1, 3)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect_readout(page, 15, 3, 3)
    page.keyboard.press("ArrowRight")  # the grid's edge: stays
    expect_readout(page, 15, 3, 3)
    # Enter/Space on a focused patch selects it (a native button).
    page.get_by_role("button", name="Patch 0 (row 0, column 0)").focus()
    page.keyboard.press("Enter")
    expect_readout(page, 0, 0, 0)
    # Every patch is a button with the contract's name.
    for k in range(16):
        assert page.get_by_role("button", name=f"Patch {k} (row {k // 4}, column {k % 4})").count() == 1


def vector_text(page, selector):
    return [float(x) for x in page.locator(selector).first.locator(".cell:not(.ellipsis)").all_text_contents()]


def test_numbers_before_the_engine_match_cpython(page, server, context):
    # Hold the runtime back so the page runs on the build's numbers only.
    context.route(re.compile(r".*/(pyodide\.asm\.wasm|snapshot-.*)$"), lambda route: None)
    page.guard.allowed_errors.append("net::")
    page.goto(server.url)
    page.get_by_role("tab", name="Project").click()
    page.get_by_role("button", name="Patch 6 (row 1, column 2)").click()
    expected = ref.stepper(selected=6)
    want = [round(v, 3) for v in expected["tokens"]["6"]]
    eventually(lambda: vector_text(page, "[data-panel=project] .vec.token") == pytest.approx(want, abs=1e-3))
    for label, strategy in [("Learned (ViT)", "learned"), ("Sinusoidal", "sinusoidal"), ("2D-Aware", "sincos2d")]:
        page.get_by_label(label, exact=True).check()
        page.get_by_role("tab", name="Add Pos").click()
        figure_matches(page, HEATMAP, ref.table(strategy), 1e-12)
        assert page.locator(f"#{HEATMAP}").get_attribute("data-source") == "build"
        part = ref.stepper(strategy=strategy, selected=6)["strategies"][strategy]
        want = [round(v, 3) for v in part["z0"]["6"]]
        eventually(lambda: vector_text(page, "[data-panel=addpos] .vec.z0") == pytest.approx(want, abs=1e-3))
    page.get_by_role("radio", name="2D-Aware", exact=True).check()
    page.get_by_label("2D variant").select_option("learned2d")
    figure_matches(page, HEATMAP, ref.table("learned2d"), 1e-12)
    # The selected position's row is outlined in the heatmap (row 0 is [CLS]).
    shape = page.evaluate(f"document.getElementById('{HEATMAP}').layout.shapes.find(s => s.name === 'selection')")
    assert shape["y0"] == pytest.approx(6.5) and shape["y1"] == pytest.approx(7.5)


def test_engine_ready_then_figures_come_from_pyodide(page, server):
    page.goto(server.url)
    text = wait_ready(page)
    assert text == "Interactive: change anything below."  # in a reader's words
    assert "Pyodide" in page.locator("[data-engine-status]").get_attribute("title")  # the details on hover
    wait_source(page, HEATMAP)
    for label, strategy in [("Sinusoidal", "sinusoidal"), ("2D-Aware", "sincos2d"), ("Learned (ViT)", "learned")]:
        page.get_by_label(label, exact=True).check()
        page.locator(f"#{HEATMAP}[data-source=pyodide]:not([data-busy=true])").wait_for(state="attached")
        for _ in range(100):
            title = page.evaluate(f"document.getElementById('{HEATMAP}').layout.title.text")
            if label.split(" ")[0] in title:
                break
            page.wait_for_timeout(50)
        figure_matches(page, HEATMAP, ref.table(strategy), 1e-9)
    assert page.locator(f"#{SIMILARITY}").get_attribute("data-source") == "pyodide"


def test_hover_shows_position_dimension_and_value(page, server):
    page.goto(server.url)
    wait_ready(page)  # nothing above the figure changes any more
    page.get_by_role("tab", name="Add Pos").click()
    page.locator(f"#{HEATMAP}[data-source=pyodide]:not([data-busy=true])").wait_for(state="attached")
    page.locator(f"#{HEATMAP}").scroll_into_view_if_needed()
    # Until Plotly is needed the figure is a canvas (plots.js); pointing at it loads Plotly,
    # which then takes the figure over. Hover is the one thing that waits for it.
    page.locator(f"#{HEATMAP}").hover()
    page.locator(f"#{HEATMAP} .main-svg").first.wait_for(state="attached", timeout=30_000)
    page.locator(f"#{HEATMAP}[data-source=pyodide]:not([data-busy=true])").wait_for(state="attached")
    hover = page.locator(f"#{HEATMAP} .hoverlayer .hovertext")
    # Walk the pointer down the first column from the plot area's top edge: the first cell
    # it meets is row CLS (the axis runs downwards), dimension 0.
    left, top, width, height = page.evaluate(f"""() => {{
        const el = document.getElementById('{HEATMAP}'), L = el._fullLayout, r = el.getBoundingClientRect();
        return [r.left + L.xaxis._offset, r.top + L.yaxis._offset, L.xaxis._length, L.yaxis._length]; }}""")
    text = ""
    for step in range(1, 12):
        page.mouse.move(1, 1)  # off the figure, so no earlier hover label lingers
        hover.wait_for(state="detached", timeout=2_000)
        page.mouse.move(left + width / 16, top + step * height / 17 / 6)
        try:
            hover.wait_for(timeout=1_000)
        except Exception:
            continue
        page.wait_for_timeout(150)  # Plotly throttles hover: let it settle on this cell
        text = hover.text_content()
        break
    assert "position CLS" in text and "dimension 0" in text and "value" in text, text


def test_strategy_radio_group_and_explanations(page, server):
    page.goto(server.url)
    group = page.get_by_role("radiogroup", name="Positional embedding")
    assert group.get_by_role("radio").count() == 3
    for name in ["Learned (ViT)", "Sinusoidal", "2D-Aware"]:
        assert group.get_by_role("radio", name=name).count() == 1
    notes = page.locator(".strategy-note")
    assert notes.count() == 3
    for i in range(3):
        note = notes.nth(i)
        note.locator("summary").click()
        assert note.locator("math").count() >= 1
        assert note.locator(".pro").count() >= 1 and note.locator(".con").count() >= 1
    assert page.get_by_label("Positional embedding matrix").count() == 1
    assert page.get_by_label("Position similarity", exact=True).count() == 1


def test_technical_details(page, server):
    page.goto(server.url)
    details = page.locator(".tech-details")
    details.locator("summary").click()
    text = details.text_content()
    for fact in ["224 × 224 × 3", "196", "197", "768 × 768", "197 × 768", "1024", "1280", "576"]:
        assert fact in text, fact
    assert details.locator("math").count() == 1


