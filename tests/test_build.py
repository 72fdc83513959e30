"""build.py on a private copy of content/: what the generated pages contain, and atomic output.

One module-wide build of content/ plus a third page, `extras.md`, that uses every Markdown
extension the site supports; the tests then read the HTML files it wrote.
"""
from __future__ import annotations

import json
import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sitebuild import copy_content, error_lines, run, tree_hash

ROOT = Path(__file__).resolve().parent.parent

EXTRAS = textwrap.dedent(r"""
    ---
    title: Extras & tests
    description: Every Markdown feature in one page.
    ---

    Back to [the article](positional-embeddings.md#add-position) or [about](about.md), or [down](#custom-id).
    A paper: [ViT](https://arxiv.org/abs/2010.11929). Money: \$5.
    Relative: [about, again](./about.md). A file: [the photograph](images/astronaut.png).

    ## A table

    | Model | Patch |
    |-------|------:|
    | ViT-B | 16    |

    ## Some code {#custom-id .special}

    ```python
    def f(x):
        return x  # $not math$ here
    ```

    Inline `$x$` code is not math either, but $\mathbf{E}_\text{pos} + \{a\}$ is, as is this:

    $$
    \sum_{i=1}^{N} x_i^2
    $$

    A claim with a source.[^src]

    !!! warning "Careful"
        An admonition body.

    ??? note "A derivation"
        Hidden until opened.

    [^src]: The source, with a [link](about.md#how-it-is-built).
    """).lstrip()


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def urls(self):
        for tag, attrs in self.tags:
            for name in ("href", "src"):
                if attrs.get(name) is not None:
                    yield tag, name, attrs[name]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    content = copy_content(tmp)
    (content / "extras.md").write_text(EXTRAS, encoding="utf-8")
    out = tmp / "dist"
    proc = run("build", content=content, out=out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def html_pages(site: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(site.glob("*.html"))}


# ---- pages and front matter

def test_one_page_per_markdown_file_and_the_index(site):
    assert sorted(html_pages(site)) == ["about.html", "authoring.html", "extras.html", "index.html"]
    assert not (site / "positional-embeddings.html").exists()  # index: true -> index.html


def test_front_matter_gives_title_heading_and_description(site):
    about = page(site, "about.html")
    assert "<title>About this site</title>" in about
    assert re.search(r"<h1>About this site</h1>", about)
    assert '<meta name="description" content="What this explainer is, who made what it uses' in about
    assert '<time datetime="2026-12-04">' in about
    extras = page(site, "extras.html")
    assert "<title>Extras &amp; tests</title>" in extras  # escaped, and a page without a date builds
    assert "<time" not in extras
    index = page(site, "index.html")
    assert "<title>Positional embeddings in Vision Transformers</title>" in index


def test_every_page_links_back_to_the_index(site):
    for name, text in html_pages(site).items():
        hrefs = [v for tag, attr, v in Tags(text).urls() if tag == "a" and attr == "href"]
        assert "index.html" in hrefs, name
    assert "← Back to the article" in page(site, "about.html")


def test_links_to_pages_point_at_their_html(site):
    extras = page(site, "extras.html")
    assert '<a href="index.html#add-position">the article</a>' in extras
    assert '<a href="about.html">about</a>' in extras
    assert 'href="about.html#how-it-is-built"' in extras  # inside a footnote too
    assert '<a href="index.html">the article</a>' in page(site, "about.html")
    assert '<a href="about.html">about, again</a>' in extras  # ./about.md too
    for name, text in html_pages(site).items():
        assert not re.search(r'href="[^"]*\.md(#[^"]*)?"', text), name


def test_linked_content_files_are_copied_under_hashed_names(site):
    link = re.search(r'<a href="(images/astronaut-[0-9a-f]{12}\.png)">the photograph</a>', page(site, "extras.html"))
    assert link, page(site, "extras.html")
    assert (site / link.group(1)).read_bytes() == (ROOT / "content" / "images" / "astronaut.png").read_bytes()


# ---- Markdown extensions

def test_markdown_extensions(site):
    extras = page(site, "extras.html")
    # tables
    assert re.search(r"<table>\s*<thead>\s*<tr>\s*<th>Model</th>", extras)
    assert re.search(r'<td (align="right"|style="text-align: ?right;?")>16</td>', extras)
    # fenced code, and no math inside it
    assert '<pre><code class="language-python">def f(x):' in extras
    assert "return x  # $not math$ here" in extras
    assert "<code>$x$</code>" in extras
    # attr_list ids and classes, toc anchors with permalinks, and the table of contents
    assert re.search(r'<h2 class="special" id="custom-id">Some code<a class="headerlink" (tabindex="-1" )?href="#custom-id"', extras)
    assert re.search(r'<h2 id="a-table">A table<a class="headerlink" (tabindex="-1" )?href="#a-table" title="Link to this section">#</a></h2>', extras)
    assert '<a href="#custom-id">Some code</a>' in extras  # in the contents
    # footnotes
    assert re.search(r'<sup id="fnref:src"><a class="footnote-ref" href="#fn:src">1</a></sup>', extras)
    assert re.search(r'<div class="footnote">.*<li id="fn:src">', extras, re.S)
    # admonition and collapsible details
    assert re.search(r'<div class="admonition warning">\s*<p class="admonition-title">Careful</p>\s*<p>An admonition body.</p>', extras)
    assert re.search(r'<details class="note">\s*<summary>A derivation</summary>\s*<p>Hidden until opened.</p>\s*</details>', extras)
    # an escaped dollar is a dollar
    assert "Money: &#36;5." in extras or "Money: $5." in extras


def test_heading_anchors_in_the_article(site):
    index = page(site, "index.html")
    assert '<h2 id="add-position">' in index  # {#add-position}
    assert 'id="permutation"' in index


# ---- math

def test_math_becomes_mathml_without_math_javascript(site):
    extras = page(site, "extras.html")
    inline = re.findall(r'<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">', extras)
    assert len(inline) == 1
    assert re.search(r'<div class="math-display"><math [^>]*display="block">.*?<munderover>', extras, re.S)
    assert '<mo stretchy="false">{</mo>' in extras  # \{ is a literal brace
    for name, text in html_pages(site).items():
        assert "$$" not in text, name
        assert not re.search(r"katex|mathjax", text, re.I), name
    index = page(site, "index.html")
    assert index.count('display="block"') >= 5 and index.count('display="inline"') >= 20


# ---- components

def test_component_directives_render(site):
    index = page(site, "index.html")
    for name in ("vit-stepper", "resolution-change", "permutation-demo", "relative-bias", "rope-shift"):
        assert index.count(f'data-component="{name}"') == 1, name
    assert ":::" not in index and "\ue000" not in index
    assert 'data-component' not in page(site, "about.html")


def test_component_directive_errors_fail_the_build(tmp_path):
    content = copy_content(tmp_path)
    about = content / "about.md"
    lines = about.read_text(encoding="utf-8").split("\n")
    lines[6:6] = ["::: rope-shift", "grid: 12", "colour: red", ":::", ""]
    about.write_text("\n".join(lines), encoding="utf-8")
    proc = run("build", content=content, out=tmp_path / "dist")
    assert proc.returncode == 1
    assert error_lines(proc) == [
        f"{about}:8: option 'grid' of 'rope-shift' must be between 2 and 8, got 12",
        f"{about}:9: unknown option 'colour' for component 'rope-shift' (allowed: grid, dim, base)",
    ]
    assert not (tmp_path / "dist").exists()


# ---- what the HTML may load

def test_no_inline_scripts(site):
    for name, text in html_pages(site).items():
        scripts = Tags(text).scripts
        assert scripts or name != "index.html"  # the article loads main.js and its page data
        for attrs, body in scripts:
            if attrs.get("src"):
                assert body.strip() == "", (name, attrs)
            else:
                assert attrs.get("type") == "application/json", (name, attrs, body[:80])
        assert not re.search(r"\son[a-z]+=", text), name  # no inline event handlers either


def test_all_urls_are_relative(site):
    for name, text in html_pages(site).items():
        assert 'href="/' not in text and 'src="/' not in text, name
        for tag, attr, url in Tags(text).urls():
            if attr == "src" or tag == "link":
                assert not re.match(r"[a-z]+://|//", url), (name, tag, url)
            if not re.match(r"[a-z]+:", url) and not url.startswith("#"):
                path = url.split("#")[0]
                assert (site / path).is_file(), (name, url)  # and it resolves in the output


def test_asset_names_carry_a_hash_or_version(site):
    seen = set()
    for name, text in html_pages(site).items():
        for tag, attr, url in Tags(text).urls():
            if url.startswith(("assets/", "vendor/", "images/")):
                seen.add(url)
                assert re.match(r"assets/site-[0-9a-f]{12}/|assets/[\w-]+-[0-9a-f]{12}\.|vendor/[\w.-]+-\d+\.\d+\.\d+/|"
                                r"images/[\w-]+-[0-9a-f]{12}\.png$", url), (name, url)
        # The runtime's folder is in the data start.js reads (the worker fetches it, not a tag).
        runtime = re.search(r'id="runtime-data">(.*?)</script>', text)
        if runtime:
            seen.add(json.loads(runtime.group(1))["pyodide_dir"])
    assert any(u.startswith("vendor/pyodide-") for u in seen) and any(u.startswith("assets/site-") for u in seen)
    for path in site.rglob("*"):
        rel = path.relative_to(site).as_posix()
        if path.is_file() and "/" in rel:  # only the pages themselves keep plain names
            assert re.search(r"-[0-9a-f]{12}|-\d+\.\d+\.\d+/", rel), rel


# ---- atomic output

def test_failing_build_leaves_the_previous_output_unchanged(tmp_path):
    content = copy_content(tmp_path)
    out = tmp_path / "out" / "dist"
    assert run("build", content=content, out=out).returncode == 0
    good = tree_hash(out)
    about = content / "about.md"
    text = about.read_text(encoding="utf-8")
    about.write_text(text.replace("## How it is built", "## How it is built\n\n::: rope-shift\ngrid: 40\n:::"),
                     encoding="utf-8")
    line = text.split("\n").index("## How it is built") + 4
    proc = run("build", content=content, out=out)
    assert proc.returncode == 1
    assert error_lines(proc) == [f"{about}:{line}: option 'grid' of 'rope-shift' must be between 2 and 8, got 40"]
    assert "Traceback" not in proc.stderr
    assert tree_hash(out) == good
    assert sorted(p.name for p in out.parent.iterdir()) == ["dist"]  # no staging folder left over
    # The hash does see a change: a good edit rebuilds the page.
    about.write_text(text.replace("## How it is built", "## How it is really built"), encoding="utf-8")
    assert run("build", content=content, out=out).returncode == 0
    changed = tree_hash(out)
    assert changed != good and changed["about.html"] != good["about.html"]
    assert "How it is really built" in page(out, "about.html")


def test_index_follows_the_front_matter(tmp_path):
    content = copy_content(tmp_path)
    article, about = content / "positional-embeddings.md", content / "about.md"
    article.write_text(article.read_text(encoding="utf-8").replace("index: true\n", ""), encoding="utf-8")
    about.write_text(about.read_text(encoding="utf-8").replace("date:", "index: true\ndate:", 1), encoding="utf-8")
    out = tmp_path / "dist"
    proc = run("build", content=content, out=out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.glob("*.html")) == ["authoring.html", "index.html", "positional-embeddings.html"]
    assert "<title>About this site</title>" in page(out, "index.html")
    assert 'href="positional-embeddings.html">the article</a>' in page(out, "index.html")
