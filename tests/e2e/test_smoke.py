"""The built article over HTTP in Chromium: text, math, no errors, nothing from outside."""
from conftest import wait_ready


def test_article_and_math_render(page, server):
    page.goto(server.url)
    assert page.title().startswith("Positional embeddings in Vision Transformers")
    assert page.locator("h1").first.text_content().strip() == "Positional embeddings in Vision Transformers"
    # MathML rendered at build time: the z0 equation and the sinusoidal formula.
    assert page.locator("math[display=block]").count() >= 3
    math_text = " ".join(page.locator("math").all_text_contents())
    assert "pos" in math_text and "sin" in math_text and "cos" in math_text
    # No math library: every script the page loads is our own or vendored.
    for src in page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)"):
        assert "/assets/site-" in src or "/vendor/" in src, src
    assert page.locator("h2").count() >= 6
    box = page.locator(".prose > .math-display > math").first.bounding_box()
    assert box and box["height"] > 10  # Chromium lays MathML out natively
    wait_ready(page)


def test_second_page_links_back(page, server):
    page.goto(server.url + "about.html")
    page.get_by_role("link", name="the article", exact=True).click()
    page.wait_for_url(server.url + "index.html")


def test_phone_layout_has_no_horizontal_scroll(browser, server):
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    pg = ctx.new_page()
    pg.goto(server.url)
    overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page is {overflow}px wider than a 360px phone"
    ctx.close()


def test_dark_scheme_follows_the_system(browser, server):
    colours = {}
    for scheme in ("light", "dark"):
        ctx = browser.new_context(color_scheme=scheme)
        pg = ctx.new_page()
        pg.goto(server.url)
        colours[scheme] = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        ctx.close()
    assert colours["light"] != colours["dark"]
