"""In-page links keep the reader's view, and what the page accepts its links reproduce
(issue 15, items 10 and 11)."""
import re

from playwright.sync_api import expect

from conftest import wait_ready

READOUT = "[data-readout]"


def test_contents_and_footnote_links_keep_the_view(page, server):
    page.goto(server.url)
    page.get_by_role("tab", name="Add Pos").click()
    page.get_by_role("radio", name="Sinusoidal", exact=True).check()
    page.get_by_role("button", name="Patch 10 (row 2, column 2)").click()
    expect(page.locator(READOUT)).to_contain_text(re.compile(r"Selected Patch:\s*10\D"))
    assert "patch=10" in page.evaluate("location.hash")
    # The table of contents: the page goes to the section and the view stays.
    page.locator(".toc summary").click()
    link = page.locator(".toc a[href='#permutation']")
    link.click()
    page.wait_for_function("location.hash === '#permutation'")
    expect(page.locator("#permutation")).to_be_in_viewport()
    expect(page.get_by_role("tab", name="Add Pos")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("radio", name="Sinusoidal", exact=True)).to_be_checked()
    expect(page.locator(READOUT)).to_contain_text(re.compile(r"Selected Patch:\s*10\D"))
    # A footnote and its way back: still the same view.
    page.locator("a.footnote-ref").first.click()
    page.wait_for_function("location.hash.startsWith('#fn:')")
    expect(page.get_by_role("tab", name="Add Pos")).to_have_attribute("aria-selected", "true")
    expect(page.locator(READOUT)).to_contain_text(re.compile(r"Selected Patch:\s*10\D"))
    # A later change keeps the section in the URL, next to the view.
    page.get_by_role("button", name="Patch 9 (row 2, column 1)").click()
    hash_ = page.evaluate("location.hash")
    assert hash_.startswith("#fn") and "&" in hash_ and "patch=9" in hash_, hash_


def test_a_shared_link_carries_a_section_and_a_view(page, server):
    page.goto(server.url + "#resolution&step=project&pe=sincos2d&patch=3")
    expect(page.get_by_role("tab", name="Project")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("2D-Aware", exact=True)).to_be_checked()
    expect(page.locator(READOUT)).to_contain_text(re.compile(r"Selected Patch:\s*3\D"))
    expect(page.locator("#resolution")).to_be_in_viewport()


def test_what_the_dimension_field_accepts_a_link_reproduces(page, server):
    page.goto(server.url)
    wait_ready(page)
    page.locator("[data-parameters] summary").click()
    field = page.get_by_label("Embedding dimension")
    maximum = int(field.get_attribute("max"))
    for dim in (12, maximum):
        field.fill(str(dim))
        field.dispatch_event("change")
        page.wait_for_function(f"location.hash.includes('d={dim}')")
        shared = page.evaluate("location.href")
        other = page.context.new_page()
        other.goto(shared)
        expect(other.get_by_label("Embedding dimension")).to_have_value(str(dim))
        other.close()
    # What the field refuses, a link refuses too: the view stays at the last good value.
    for bad in (maximum + 4, 6):
        field.fill(str(bad))
        field.dispatch_event("change")
        expect(page.locator("[data-param-error]")).to_be_visible()
        assert f"d={bad}&" not in page.evaluate("location.hash") + "&"
        other = page.context.new_page()
        other.goto(server.url + f"#step=addpos&d={bad}")
        expect(other.get_by_label("Embedding dimension")).to_have_value("8")
        other.close()
