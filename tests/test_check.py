"""Bad content: `check` and `build` both report it as `path:line: message`, with the exact line.

Every case edits a private copy of content/, then runs `build.py check` and `build.py build`
in subprocesses. The build must exit 1 and leave the previous output folder byte-for-byte
as it was; no run may ever print a Python traceback.
"""
from __future__ import annotations

import dataclasses
import pytest

from sitebuild import ROOT, batch, copy_content, error_lines, front, run, tree_hash

ABOUT = "about.md"
ARTICLE = "positional-embeddings.md"


def body(*lines: str) -> str:
    """A page whose body starts on line 6 (front matter on lines 1-4, a blank line 5)."""
    return front() + "\n" + "\n".join(lines) + "\n"


@dataclasses.dataclass
class Case:
    id: str
    text: str | bytes                       # the new about.md
    expected: list[tuple[int, str]]          # (line, part of the message), in report order
    file: str = ABOUT                        # where the errors are reported
    extra: dict[str, str | bytes] = dataclasses.field(default_factory=dict)  # more files, relative to content/


PNG = (ROOT / "content" / "images" / "astronaut.png").read_bytes()

CASES = [
    # ---- files that are not Markdown at all
    Case("empty-file", "", [(1, "missing front matter")]),
    Case("bad-utf8", b"---\ntitle: Caf\xe9\ndescription: B\n---\n", [(2, "file is not valid UTF-8")]),
    Case("binary-renamed-md", PNG[:4096], [(1, "file is not valid UTF-8")]),
    # ---- front matter
    Case("missing-front-matter", "Just prose, no front matter.\n", [(1, "missing front matter: the file must start with a '---' line")]),
    Case("unclosed-front-matter", "---\ntitle: A\ndescription: B\n\nProse.\n", [(1, "front matter is not closed")]),
    Case("invalid-yaml", "---\ntitle: A\ndescription: B: C\n---\n\nProse.\n", [(3, "front matter is not valid YAML")]),
    Case("front-matter-not-mapping", "---\n- title\n- description\n---\n", [(2, "front matter must be a mapping")]),
    Case("missing-title", "---\ndescription: B\n---\n\nProse.\n", [(1, "front matter is missing the required field 'title'")]),
    Case("missing-description", "---\ntitle: A\n---\n\nProse.\n", [(1, "front matter is missing the required field 'description'")]),
    Case("title-not-string", "---\ntitle: 3\ndescription: B\n---\n", [(2, "front-matter field 'title' must be a non-empty str, got 3")]),
    Case("index-not-bool", front(index='"yes"') + "\nProse.\n", [(4, "front-matter field 'index' must be a non-empty bool, got 'yes'")]),
    Case("unknown-field", front(tags="[vit]") + "\nProse.\n", [(4, "unknown front-matter field 'tags'")]),
    Case("impossible-date", front(date="2026-13-45") + "\nProse.\n", [(4, "front matter has an invalid value: month must be in 1..12")]),
    Case("two-index-pages", front(index="true") + "\nProse.\n",
         [(4, "exactly one page must set 'index: true' in its front matter (found: about.md, positional-embeddings.md)")],
         file=ARTICLE),
    # ---- component directives
    Case("unknown-component", body("Prose.", "", "::: vit-steper", "patch: 16", ":::"),
         [(8, "unknown component 'vit-steper' (known: vit-stepper, ")]),
    Case("unknown-option", body("::: rope-shift", "grid: 4", "radius: 2", ":::"),
         [(8, "unknown option 'radius' for component 'rope-shift' (allowed: grid, dim, base)")]),
    Case("option-not-a-choice", body("::: vit-stepper", "", "strategy: rotary", ":::"),
         [(8, "option 'strategy' of 'vit-stepper' must be one of learned, sinusoidal, sincos2d, learned2d; got 'rotary'")]),
    Case("option-out-of-range", body("::: relative-bias", "window: 9", ":::"),
         [(7, "option 'window' of 'relative-bias' must be between 2 and 8, got 9")]),
    Case("option-wrong-type", body("::: rope-shift", "# a comment", "dim: eight", ":::"),
         [(8, "option 'dim' of 'rope-shift' must be int, got 'eight'")]),
    Case("option-not-key-value", body("::: rope-shift", "grid 4", ":::"),
         [(7, "expected 'option: value' in component 'rope-shift', got 'grid 4'")]),
    Case("option-bad-yaml", body("::: rope-shift", "grid: [4", ":::"), [(7, "option 'grid' has a value that is not valid YAML")]),
    Case("patch-does-not-divide", body("Prose.", "", "::: vit-stepper", "image_size: 64", "patch: 10", ":::"),
         [(8, "patch size 10 does not divide image size 64")]),
    Case("dim-not-multiple-of-4", body("::: rope-shift", "dim: 6", ":::"), [(7, "option 'dim' of 'rope-shift' must be a multiple of 4, got 6")]),
    Case("stepper-image-missing", body("::: vit-stepper", "image: images/nope.png", ":::"),
         [(6, "image 'images/nope.png' not found in content/")]),
    Case("stepper-image-unreadable", body("::: vit-stepper", "image: images/fake.png", ":::"),
         [(6, "image 'images/fake.png' is not a readable PNG or JPEG file")], extra={"images/fake.png": "not a PNG"}),
    Case("unclosed-directive", body("Prose.", "", "::: rope-shift", "grid: 4", "", "More prose."),
         [(8, "component 'rope-shift' is not closed: add a ':::' line")]),
    Case("unclosed-directive-before-another", body("::: rope-shift", "grid: 4", "", "::: relative-bias", ":::"),
         [(6, "component 'rope-shift' is not closed")]),
    Case("closing-fence-alone", body("Prose.", ":::"), [(7, "a ':::' line closes nothing")]),
    Case("permutation-without-stepper", body("Prose.", "", "::: permutation-demo", ":::"),
         [(8, "permutation-demo needs a vit-stepper earlier on the page")]),
    # ---- math
    Case("unclosed-display-math", body("Prose.", "", "$$", "x = 1"), [(8, "display math is not closed: add a '$$' line")]),
    Case("unclosed-display-math-before-another", body("$$", "x = 1", "", "Prose.", "", "$$", "y = 2", "$$"),
         [(6, "display math is not closed")]),
    Case("display-math-bad-latex", body("Prose.", "", "$$", r"\frac{a}{b", "$$"), [(8, r"math: unbalanced braces in $$\frac{a}{b$$")]),
    Case("inline-math-unbalanced-braces", body("Prose.", r"So $\frac{a$ is wrong."), [(7, r"math: unbalanced braces in $\frac{a$")]),
    Case("inline-math-unknown-command", body("", "", r"See $\foo{x} + 1$ here."), [(8, r"math: unknown command \foo")]),
    Case("unmatched-dollar", body("It costs $5 today."), [(6, "math: unmatched '$'")]),
    # ---- links and images
    Case("link-to-missing-page", body("Prose.", "See [the notes](notes.md)."), [(7, "link to 'notes.md': no such page in content/")]),
    Case("link-to-missing-anchor", body("See [below](#nope)."), [(6, "link to '#nope': no heading or element with that id in about.md")]),
    Case("link-to-missing-anchor-elsewhere", body("", "See [it](positional-embeddings.md#nope)."),
         [(7, "link to '#nope': no heading or element with that id in positional-embeddings.md")]),
    Case("link-to-missing-file", body("See [data](data/table.csv)."), [(6, "link to 'data/table.csv': no such file in content/")]),
    Case("missing-image", body("Prose.", "", "![A plot](images/nope.png)"), [(8, "image 'images/nope.png' not found in content/")]),
    Case("image-on-another-host", body("![A plot](https://example.org/plot.png)"), [(6, "image 'https://example.org/plot.png' is on another host")]),
    Case("image-outside-content", body("![Secret](../secret.png)"), [(6, "image '../secret.png' is outside content/")],
         extra={"../secret.png": PNG}),
]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Every case's `check` and `build` runs, in one subprocess after a good build.

    The failing builds all write to the good build's output folder, which must stay as it
    was: its file listing (with sizes, mtimes and inodes) is taken after every run, and its
    full content hash before and after the whole table.
    """
    tmp = tmp_path_factory.mktemp("previous")
    out = tmp / "site" / "dist"
    good = run("build", content=copy_content(tmp), out=out)
    assert good.returncode == 0, good.stderr
    before = tree_hash(out)
    control = small_content(tmp_path_factory.mktemp("control"))
    jobs, contents = [["check", "--content", str(control)]], {}
    for case in CASES:
        content = small_content(tmp_path_factory.mktemp(case.id))
        write_case(content, case)
        contents[case.id] = content
        jobs.append(["check", "--content", str(content)])
        jobs.append(["build", "--content", str(content), "--out", str(out), "--no-snapshot"])
    control_run, *results = batch(jobs, watch=out.parent)
    assert control_run.returncode == 0, control_run.stdout + control_run.stderr
    return {
        "out": out, "before": before, "after": tree_hash(out), "listing": control_run.watched,
        "cases": {case.id: (contents[case.id], results[2 * n], results[2 * n + 1]) for n, case in enumerate(CASES)},
    }


def small_content(tmp):
    """content/ with the article cut before its second section: parsing all of it for every
    case would make this file slow, and the cases only need a valid index page."""
    content = copy_content(tmp)
    article = content / ARTICLE
    lines = article.read_text(encoding="utf-8").split("\n")
    cut = next(n for n, line in enumerate(lines) if line.startswith("## ") and n > 20)
    stub = ["## The permutation demo {#permutation}", "", "(Cut for the tests.)", "",  # the intro links here
            "## A trained ViT {#trained-vit}", "", "(Cut for the tests.)", ""]
    article.write_text("\n".join(lines[:cut] + stub), encoding="utf-8")
    return content


def write_case(content, case: Case) -> None:
    target = content / ABOUT
    if isinstance(case.text, bytes):
        target.write_bytes(case.text)
    else:
        target.write_text(case.text, encoding="utf-8")
    for rel, data in case.extra.items():
        path = content / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())


def assert_reports(proc, content, case: Case, what: str) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, f"{what} crashed:\n{output}"
    assert proc.returncode == 1, f"{what} exited {proc.returncode}:\n{output}"
    got = error_lines(proc)
    prefix = str(content / case.file)
    want = [(f"{prefix}:{line}: ", part) for line, part in case.expected]
    assert len(got) == len(want), f"{what}: expected {len(want)} problem(s), got:\n{output}"
    for line, (start, part) in zip(got, want):
        assert line.startswith(start) and part in line, f"{what}: expected '{start}…{part}…', got '{line}'"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_content_is_reported_by_check_and_build(case, reports):
    content, checked, built = reports["cases"][case.id]
    assert_reports(checked, content, case, "check")
    assert_reports(built, content, case, "build")
    assert "build failed" in built.stderr
    # The output folder (and its parent: no staging folder left) is exactly as the good build left it.
    assert built.watched == reports["listing"], "a failing build touched the previous output"
    assert checked.watched == reports["listing"]


def test_failing_builds_left_the_output_byte_for_byte(reports):
    assert reports["after"] == reports["before"]
    assert sorted(p.name for p in reports["out"].parent.iterdir()) == ["dist"]


def test_distinct_kinds_of_bad_content():
    assert len({c.id for c in CASES}) == len(CASES)
    assert len(CASES) >= 10


def test_check_prints_every_problem_and_writes_nothing(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    content = copy_content(tmp_path)
    (content / ABOUT).write_text(
        "---\ntitle: 3\ndescription: B\n---\n"      # 2: title is not a string
        "\n"
        "::: vit-steper\n"                           # 6: unknown component
        ":::\n"
        "\n"
        "See [below](#nope) and $\\foo$.\n",         # 9: missing anchor, 9: unknown command
        encoding="utf-8")
    article = content / ARTICLE
    lines = article.read_text(encoding="utf-8").split("\n")
    lines[8] = "See [x](missing.md)."  # line 9 of the article
    article.write_text("\n".join(lines), encoding="utf-8")
    before = tree_hash(tmp_path)
    proc = run("check", content=content, cwd=work)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert error_lines(proc) == [
        f"{content / ABOUT}:2: front-matter field 'title' must be a non-empty str, got 3",
        f"{content / ABOUT}:6: unknown component 'vit-steper' (known: vit-stepper, resolution-change, "
        "permutation-demo, relative-bias, rope-shift, trained-vit)",
        f"{content / ABOUT}:9: math: unknown command \\foo in $\\foo$",
        f"{content / ABOUT}:9: link to '#nope': no heading or element with that id in about.md",
        f"{content / ARTICLE}:9: link to 'missing.md': no such page in content/",
    ]
    assert "5 problem(s) found" in proc.stderr
    assert tree_hash(tmp_path) == before, "check wrote something"
    assert not (tmp_path / "dist").exists() and not list(work.iterdir())


def test_three_errors_in_one_file_give_three_lines(tmp_path):
    content = copy_content(tmp_path)
    (content / ABOUT).write_text(body("::: rope-shift", "grid: 99", ":::", "", "Cost: $5.", "", "![x](images/none.png)"),
                                 encoding="utf-8")
    proc = run("check", content=content)
    lines = error_lines(proc)
    assert [line.split(": ", 1)[0] for line in lines] == [f"{content / ABOUT}:{n}" for n in (7, 10, 12)], lines


def test_good_content_checks_clean(tmp_path):
    proc = run("check", content=copy_content(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert error_lines(proc) == [] and "content OK" in proc.stderr


def test_byte_order_mark_is_accepted(tmp_path):
    content = copy_content(tmp_path)
    about = content / ABOUT
    about.write_bytes(b"\xef\xbb\xbf" + about.read_bytes())
    proc = run("check", content=content)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_markdown_at_all(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    for command in ("check", "build"):
        proc = run(command, content=content, out=tmp_path / "dist")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "no markdown files" in proc.stdout + proc.stderr
    assert not (tmp_path / "dist").exists()
