"""The build under hostile input (issue 15, items 1-8): nothing lost, nothing injected,
nothing hangs.

Each case is something that, before, lost a file, let markup through, or hung or crashed
the build. `check` and `build` run in-process (build.py takes its folders as one object);
the command line is run where what it prints matters (no traceback, ever).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import build  # noqa: E402
from sitebuild import tree_hash  # noqa: E402

FRONT = "---\ntitle: A page\ndescription: A test page.\n---\n\n"  # the body starts on line 6
PNG = (ROOT / "content" / "images" / "astronaut.png").read_bytes()


@pytest.fixture
def site(tmp_path):
    """A private copy of content/ and folders for it."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    return build.Folders(content=content, out=tmp_path / "out", cache=ROOT / ".cache")


def about(folders, text: str) -> Path:
    path = folders.content / "about.md"
    path.write_text(FRONT + text, encoding="utf-8")
    return path


def problems(folders) -> list[tuple[int, str]]:
    return [(e.line, e.message) for e in build.check(folders)]


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = build.main(list(argv))
    return code, out.getvalue() + err.getvalue()


# --------------------------------------------------------------------------- 1. the output folder

@pytest.mark.parametrize("where", ["content", "site_templates", "pyodide_src", "root", "parent", "git"])
def test_build_refuses_to_write_into_the_sources(site, tmp_path, where):
    target = {"content": site.content, "site_templates": ROOT / "site_templates", "pyodide_src": ROOT / "pyodide_src",
              "root": ROOT, "parent": ROOT.parent, "git": ROOT / ".git"}[where]
    before = tree_hash(site.content) if where == "content" else None
    listing = sorted(p.name for p in target.iterdir())
    code, output = cli("build", "--content", str(site.content), "--out", str(target), "--no-snapshot")
    assert code == 1 and "refusing to write the site into" in output and "Traceback" not in output, output
    assert sorted(p.name for p in target.iterdir()) == listing
    if before is not None:
        assert tree_hash(site.content) == before


def test_build_replaces_only_a_folder_it_made(site, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    code, output = cli("build", "--content", str(site.content), "--out", str(mine), "--no-snapshot")
    assert code == 1 and "was not made by this build" in output, output
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("build", "--content", str(site.content), "--out", str(empty), "--no-snapshot")[0] == 0
    assert (empty / build.STAMP).is_file() and (empty / "index.html").is_file()
    # Its own output is replaced by the next build.
    assert cli("build", "--content", str(site.content), "--out", str(empty), "--no-snapshot")[0] == 0


def test_serve_refuses_a_folder_it_did_not_make(site, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("x")
    code, output = cli("serve", "--content", str(site.content), "--out", str(mine), "--no-snapshot", "--port", "0")
    assert code == 1 and "was not made by this build" in output
    assert (mine / "keep.txt").read_text() == "x"


# --------------------------------------------------------------------------- 2. copies

def test_every_output_file_is_its_own_copy(site):
    build.build(site, snapshot=False)
    sources = {}
    for folder in (site.content, ROOT / "site_templates", ROOT / "node_modules"):
        for p in folder.rglob("*"):
            if p.is_file():
                sources[(p.stat().st_dev, p.stat().st_ino)] = p
    for p in site.out.rglob("*"):
        if p.is_file():
            st = p.stat()
            assert st.st_nlink == 1, f"{p} has {st.st_nlink} links"
            assert (st.st_dev, st.st_ino) not in sources, f"{p} is {sources[(st.st_dev, st.st_ino)]}"
    # An in-place edit of the output leaves the source alone.
    css = next(site.out.glob("assets/site-*/css/site.css"))
    with open(css, "a") as fh:
        fh.write("/* minified */")
    assert "minified" not in (ROOT / "site_templates" / "static" / "css" / "site.css").read_text()


def test_a_link_with_a_query_points_at_the_copy(site):
    """'a.png?v=1' named a file that was copied, but the page kept pointing at the uncopied original."""
    about(site, "![A photo](images/astronaut.png?v=1)\n")
    build.build(site, snapshot=False)
    src = re.search(r'<img alt="A photo" src="([^"]+)"', (site.out / "about.html").read_text(encoding="utf-8")).group(1)
    assert re.fullmatch(r"images/astronaut-[0-9a-f]+\.png", src), src
    assert (site.out / src).read_bytes() == PNG


# --------------------------------------------------------------------------- 3. no silent page loss

def test_two_pages_for_one_output_file_are_an_error(site):
    (site.content / "index.md").write_text(FRONT + "Another index.\n", encoding="utf-8")
    errors = build.check(site)
    assert [str(e).split(": ", 1)[1] for e in errors] == [
        "this page and index.md (line 1) would both be written to index.html"]
    assert errors[0].path.name == "positional-embeddings.md" and errors[0].line == 4  # its 'index: true'


@pytest.mark.parametrize("heading,reserved", [("## Page data", "page-data"), ("## Runtime data", "runtime-data"),
                                              ("## Main", "main"), ("## Text {#vit-stepper-0-heatmap}", "vit-stepper-0-heatmap")])
def test_a_heading_may_not_take_an_id_the_page_uses(site, heading, reserved):
    about(site, "Prose.\n\n" + heading + "\n\nMore.\n")
    assert problems(site) == [(8, f"the id '{reserved}' is used by the page itself; give the heading another with {{#another-id}}")]


# --------------------------------------------------------------------------- 4. math is text

class Dom(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.stack, self.scripts_in_math, self.texts, self.math_depth = [], 0, [], 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "math":
            self.math_depth += 1
        if tag == "script" and self.math_depth:
            self.scripts_in_math += 1

    def handle_endtag(self, tag):
        if tag == "math":
            self.math_depth -= 1

    def handle_data(self, data):
        if self.math_depth:
            self.texts.append(data)


def test_math_text_is_escaped(site):
    about(site, r"A $\text{if a<b then}$ and $\text{</math><script>alert(1)</script>}$ and "
                r"""$\text{"q" & 'r'}$ and $a < b \& c$. After the math.""")
    assert problems(site) == []
    build.build(site, snapshot=False)
    page = (site.out / "about.html").read_text(encoding="utf-8")
    dom = Dom(page)
    assert dom.scripts_in_math == 0 and "<script>alert" not in page
    text = "".join(dom.texts)
    for piece in ("if\u00a0a<b\u00a0then", "</math><script>alert(1)</script>", '"q"\u00a0&\u00a0\'r\'', "<", "&"):
        assert piece in text, (piece, text)
    assert dom.math_depth == 0  # every <math> closed: the prose after it is not inside a formula
    assert re.search(r"</math>\. After the math\.", page)


# --------------------------------------------------------------------------- 5. raw HTML policy

@pytest.mark.parametrize("raw,message", [
    ('<meta http-equiv="refresh" content="0;url=https://example.org">', "raw HTML <meta> is not allowed"),
    ("<style>body { display: none }</style>", "raw HTML <style> is not allowed"),
    ("<script>alert(1)</script>", "raw HTML <script> is not allowed"),
    ('<iframe src="https://example.org"></iframe>', "raw HTML <iframe> is not allowed"),
    ('<span onclick="alert(1)">x</span>', "attribute 'onclick' on <span> is not allowed"),
    ('<a href="javascript:alert(1)">x</a>', "a javascript: URL is not allowed"),
    ("[x](javascript:alert(1))", "a javascript: URL is not allowed"),
    ('## Title {onclick="alert(1)"}', "attribute 'onclick' on <h2> is not allowed"),
    ('<form action="https://example.org"><input></form>', "raw HTML <form> is not allowed"),
])
def test_raw_html_outside_the_policy_is_an_error(site, raw, message):
    about(site, "Prose.\n\n" + raw + "\n")
    found = problems(site)
    assert found and all(line == 8 for line, _ in found) and any(message in m for _, m in found), found


def test_the_allowed_subset_builds_and_the_output_is_sanitised(site):
    about(site, "Press <kbd>Ctrl</kbd>, H<sub>2</sub>O, <mark>x</mark>, <abbr title=\"Vision Transformer\">ViT</abbr>.\n\n"
                "<details><summary>More</summary>\n\nHidden.\n\n</details>\n")
    assert problems(site) == []
    build.build(site, snapshot=False)
    page = (site.out / "about.html").read_text(encoding="utf-8")
    assert "<kbd>Ctrl</kbd>" in page and "<sub>2</sub>" in page and '<abbr title="Vision Transformer">' in page
    assert build.sanitize('<p onclick="x">a<script>b</script></p>') == "<p>a</p>"


# --------------------------------------------------------------------------- 6. links in every form

@pytest.mark.parametrize("text,line,message", [
    ("[x][ref]\n\n[ref]: missing.md", 8, "link to 'missing.md': no such page in content/"),
    ("[x][ref]\n\n[ref]: missing.md 'a title'", 8, "link to 'missing.md': no such page in content/"),
    ("[x](<missing page.md>)", 6, "link to 'missing page.md': no such page in content/"),
    ("[x](missing.md 'title')", 6, "link to 'missing.md': no such page in content/"),
    ("![x][img]\n\n[img]: https://example.org/x.png", 8, "is on another host"),
    ("![x][img]\n\n[img]: images/none.png", 8, "image 'images/none.png' not found in content/"),
    ("[x](../secret.txt)", 6, "link to '../secret.txt': it is outside content/"),
    ("[x](/etc/passwd)", 6, "link to '/etc/passwd': it is outside content/"),
    ("![x](images/../../secret.png)", 6, "image 'images/../../secret.png' is outside content/"),
    ("[x](images/out)", 6, "link to 'images/out': it is outside content/"),
    ("[x](about.md#nowhere)", 6, "link to '#nowhere': no heading or element with that id in about.md"),
])
def test_links_and_images_are_checked_in_every_form(site, text, line, message):
    (site.content.parent / "secret.txt").write_text("secret")
    (site.content.parent / "secret.png").write_bytes(PNG)
    os.symlink(site.content.parent / "secret.txt", site.content / "images" / "out")
    about(site, text + "\n")
    found = problems(site)
    assert [(l, message in m) for l, m in found] == [(line, True)], found


# --------------------------------------------------------------------------- 7. bounded time and memory

def timed_check(folders, seconds=20.0):
    t0 = time.monotonic()
    found = problems(folders)
    took = time.monotonic() - t0
    assert took < seconds, f"check took {took:.1f} s"
    return found


@pytest.mark.parametrize("name,make,expected", [
    ("40 KB of '['", lambda: "[" * 40_000, (6, "line is 40000 characters long; the limit is 5000")),
    ("2,000-level list", lambda: "- " * 2000 + "x", (6, "nest 2000 levels deep; the limit is 12")),
    ("deep indentation", lambda: "\n".join(" " * i + "- x" for i in range(300)), (54, "nest 13 levels deep")),
    ("brackets over lines", lambda: "\n".join(["[" * 100] * 40), (10, "has more than 400 '[' characters")),
    ("emphasis run", lambda: "_" * 1000 + "a" + "_" * 1000, (6, "1000 '*' or '_' in a row")),
    ("huge file", lambda: "word " * 200_000, (1, "the file is 976 KB; the limit is 512 KB")),
])
def test_content_limits_are_checked_before_parsing(site, name, make, expected):
    about(site, make())
    found = timed_check(site)
    assert len(found) == 1 and found[0][0] == expected[0] and expected[1] in found[0][1], found


def test_yaml_alias_bomb(site):
    bomb = ("---\ntitle: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
            "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
            "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ndescription: x\n---\n")
    (site.content / "about.md").write_text(bomb, encoding="utf-8")
    assert timed_check(site) == [(2, "YAML anchors and aliases (&name, *name) are not allowed here")]
    about(site, "::: rope-shift\ngrid: &g 4\n:::\n")
    assert timed_check(site) == [(7, "YAML anchors and aliases (&name, *name) are not allowed here")]


def test_a_long_value_gives_a_short_message(site):
    about(site, "::: rope-shift\ngrid: " + "9" * 4000 + "\n:::\n")
    (line, message), = timed_check(site)
    assert line == 7 and len(message) < 200 and message.startswith("option 'grid' of 'rope-shift' must be between")


DEEP_YAML = "{a: " * 900 + "1" + "}" * 900


@pytest.mark.parametrize("name,text,expected", [
    ("deep YAML in an option", "::: rope-shift\ngrid: " + DEEP_YAML + "\n:::\n", (7, "the YAML nests too deeply")),
    ("deep fact", "So {= " + "+".join(["1"] * 150) + " =}.\n", (6, "a fact is at most 200 characters")),
    ("a fact that never ends", "So {= power(2, 10**12) =}.\n", (6, "power(2, 10**12): it took too long")),
    ("a fact of a huge table", 'So {= similarity("learned", 0, 1, 100000, 1, 4) =}.\n', (6, "it took too long")),
    ("a gigabyte-wide format", "So {= 1 :>999999999 =}.\n", (6, "format '>999999999' is longer or wider")),
    ("a record that is not a path", "So {= record(5) =}.\n", (6, "record 5 must be a .json file in content/")),
    ("a superscript digit in a link", "[x](#vit-stepper-0&size=²)\n\n::: vit-stepper\n:::\n",
     (6, "size=²: image size is not a whole number")),
    ("a null byte in a link", "[x](a%00.png)\n", (6, "it is outside content/")),
    ("a file name over 255 bytes", "[x](" + "a" * 300 + ".png)\n", (6, "it is outside content/")),
])
def test_hostile_content_is_one_message_in_bounded_time(site, name, text, expected):
    """Each of these gave a traceback or hung the build before."""
    about(site, text)
    found = timed_check(site, seconds=25)
    assert len(found) == 1 and found[0][0] == expected[0] and expected[1] in found[0][1], found


def test_a_hostile_record_is_an_error_on_the_directive(site):
    (site.content / "models" / "bad.json").write_text("[" * 100_000 + "]" * 100_000)
    about(site, "::: trained-vit\nrecord: models/bad.json\n:::\n")
    found = [(e.path.name, e.line, e.message) for e in build.check(site)]
    assert found == [("about.md", 6, "trained-vit: its data nests too deeply")], found
    code, output = cli("build", "--content", str(site.content), "--out", str(site.out), "--no-snapshot")
    assert code == 1 and "Traceback" not in output and "bug in build.py" not in output


def test_many_headings_and_links_check_in_linear_time(site):
    """Each heading's and link's line used to be found by a scan of the whole page: 4,000 headings took 45 s."""
    about(site, "".join(f"# Heading {i}\n\n[back](#heading-{i}) and [on](#heading-{(i + 1) % 4000})\n\n"
                        for i in range(4000)))
    assert timed_check(site) == []


def test_a_link_by_dot_dot_back_into_content_is_refused_and_nothing_is_written_there(site):
    """'../content/images/x.png' resolves inside content/, but its copy went to out/../content/."""
    about(site, "![A photo](../content/images/astronaut.png)\n")
    before = tree_hash(site.content)
    assert problems(site) == [(6, "image '../content/images/astronaut.png' is outside content/")]
    assert tree_hash(site.content) == before


def test_stale_folders_beside_the_output_are_left_alone_unless_a_build_made_them(site):
    site.out.mkdir()
    mine = site.out.with_name(site.out.name + ".old-999999999")
    theirs = site.out.with_name(site.out.name + ".old-backup")
    for folder in (mine, theirs):
        folder.mkdir()
        (folder / "keep.txt").write_text("x")
    (mine / build.STAMP).write_text("made by a build")
    build.clean_stale_staging(site.out)
    assert theirs.is_dir() and (theirs / "keep.txt").is_file()
    assert not mine.exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "folder", "dangling"])
def test_only_regular_files_are_read(site, kind):
    path = site.content / "extra.md"
    if kind == "dev-zero":
        os.symlink("/dev/zero", path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        os.symlink(site.content / "nowhere.md", path)
    found = [(e.path.name, e.line, e.message) for e in build.check(site)]
    message = {"dev-zero": "the file is a link to a file outside content/",
               "fifo": "the file is not a regular file (it is a folder, device or pipe)",
               "folder": "the file is not a regular file (it is a folder, device or pipe)",
               "dangling": "the file cannot be read: it is missing, or a link that goes nowhere"}[kind]
    assert found == [("extra.md", 1, message)]
    code, output = cli("build", "--content", str(site.content), "--out", str(site.out), "--no-snapshot")
    assert code == 1 and message in output and "Traceback" not in output
    assert not site.out.exists()


def corrupt_png() -> bytes:
    i = PNG.index(b"IDAT")
    return PNG[:i + 104] + bytes(200) + PNG[i + 304:]


@pytest.mark.parametrize("use", ["prose", "stepper"])
def test_a_damaged_image_fails_check_with_its_line(site, use):
    (site.content / "images" / "bad.png").write_bytes(corrupt_png())
    about(site, "![A plot](images/bad.png)\n" if use == "prose" else "::: vit-stepper\nimage: images/bad.png\n:::\n")
    (line, message), = problems(site)
    assert line == 6 and "is not a readable" in message
    code, output = cli("build", "--content", str(site.content), "--out", str(site.out), "--no-snapshot")
    assert code == 1 and "Traceback" not in output and not site.out.exists()


def test_bad_utf8_names_the_line_of_the_bad_byte(site):
    data = FRONT.encode() + b"Fine.\n\nAlso fine.\nCaf\xe9 au lait.\n"
    (site.content / "about.md").write_bytes(data)
    bad = data.index(0xE9)
    assert problems(site) == [(9, f"file is not valid UTF-8 (invalid continuation byte at byte {bad})")]


def test_markdown_runs_under_a_deadline_and_a_memory_cap():
    with pytest.raises(TimeoutError):
        build.run_bounded(time.sleep, 5, seconds=0.5, memory=1 << 30)
    with pytest.raises(MemoryError):
        build.run_bounded(lambda: bytearray(2 << 30), seconds=10, memory=256 << 20)
    assert build.run_bounded(sum, [1, 2, 3], seconds=5, memory=1 << 30) == 6


# --------------------------------------------------------------------------- 8. fuzz

BLOCKS = st.sampled_from([
    "# Heading", "## A heading {#custom}", "## Page data", "- item\n  - nested\n    - deeper", "1. one\n2. two",
    "> quote\n> > nested", "```python\ncode $x$ <script>\n```", "    indented code", "| a | b |\n|---|---|\n| 1 | 2 |",
    "!!! note \"Title\"\n    Body.", "??? note \"More\"\n    Hidden.", "Footnote[^f].\n\n[^f]: The note.",
    "$$\nx^2\n$$", "$$\n\\frac{a}{b\n$$", "Inline $x_1$ math.", "Unmatched $ dollar.", "$\\text{<b>&</b>}$",
    "::: rope-shift\ngrid: 3\n:::", "::: relative-bias\nwindow: 99\n:::", "::: vit-steper\n:::", ":::",
    "::: resolution-change\nto_grid: 8\nmethod: deit\n:::", "::: rope-shift\ngrid: &x 3\n:::", "::: permutation-demo\n:::",
    "[link](about.md)", "[link](nowhere.md)", "[ref][r]\n\n[r]: about.md#how-it-is-built", "<https://example.org>",
    "![img](images/astronaut.png)", "![img](https://example.org/x.png)", "![img](../x.png)",
    "<kbd>k</kbd> <span class=\"x\">s</span>", "<script>alert(1)</script>", "<style>p{}</style>", "<div>\nraw\n</div>",
    "*emphasis* **strong** _u_ __uu__", "[[[[[", "]]]]", "\\$ escaped", "&amp; &lt; &#0; &#x110000;",
    "\ufeff", "tab\tseparated", "\u202e right-to-left", "emoji 🙂", "a\r\nwindows\r\nlines",
])
FRONT_MATTER = st.sampled_from([
    FRONT, "---\ntitle: T\n---\n\n", "---\ntitle: 3\ndescription: x\n---\n\n", "---\ntitle: [a\n---\n\n",
    "---\ntitle: T\ndescription: D\ndate: 2026-13-45\n---\n\n", "---\ntitle: &a x\ndescription: *a\n---\n\n",
    "no front matter\n", "---\ntitle: T\ndescription: D\nindex: true\n---\n\n", "",
])


@st.composite
def pages(draw):
    blocks = draw(st.lists(st.one_of(BLOCKS, st.text(max_size=80)), max_size=12))
    repeat = draw(st.integers(1, 3))
    nest = draw(st.integers(0, 3))
    body = "\n\n".join(blocks * repeat)
    body = "\n".join("  " * nest + line for line in body.split("\n")) if nest else body
    return draw(FRONT_MATTER) + body


class Complete(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.refs = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value and not re.match(r"[a-z]+:|#|//", value):
                self.refs.append(value.split("#")[0])


FUZZ_EXAMPLES = int(os.environ.get("PE_FUZZ_EXAMPLES", "25"))  # the bench runs longer: PE_FUZZ_EXAMPLES=2000


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=pages())
def test_fuzz_never_crashes_hangs_or_half_writes(fuzz_site, text):
    folders = fuzz_site
    (folders.content / "about.md").write_text(text, encoding="utf-8")
    before = tree_hash(folders.out)
    t0 = time.monotonic()
    code, output = cli("build", "--content", str(folders.content), "--out", str(folders.out), "--no-snapshot")
    took = time.monotonic() - t0
    assert "Traceback" not in output and code in (0, 1), output
    assert took < 30, f"build took {took:.1f} s"
    if code == 1:
        assert tree_hash(folders.out) == before, "a failed build changed the output"
        assert all(re.match(r".+:\d+: ", line) for line in output.splitlines()
                   if line and not line.startswith(("build failed", "error:", "another build is running"))), output
    else:
        for page in folders.out.glob("*.html"):
            html = page.read_text(encoding="utf-8")
            assert html.rstrip().endswith("</html>")
            missing = [r for r in Complete(html).refs if not (folders.out / r).is_file()]
            assert not missing, (page.name, missing)
    check_code, check_output = cli("check", "--content", str(folders.content))
    assert "Traceback" not in check_output and check_code == code, (check_output, output)


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content)
    folders = build.Folders(content=content, out=tmp / "out", cache=ROOT / ".cache")
    build.build(folders, snapshot=False)
    return folders
