"""The component registry (pe_engine/components.py) against everything that reads it.

For every component and every option, the minimum, the maximum and every offered value
pass `check`, build, and are shown selected in their control; every cross-option rule is
refused by `check` on its line; the README's table is the registry's. The builds run
in-process (build.py takes its folders as one object), on one page holding a directive
per value, so this file needs no browser and little time.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import build  # noqa: E402
from pe_engine import components  # noqa: E402

FRONT = "---\ntitle: {title}\ndescription: A test page.\n{extra}---\n\n"


def values_to_try(option):
    """The minimum, the maximum and every offered value (or every choice)."""
    if option.kind == "choice":
        return [c.value for c in option.choices]
    if option.kind in ("int", "float"):
        out = {option.minimum, option.maximum, *option.offered}
        if option.multiple_of:
            out = {v - v % option.multiple_of or option.multiple_of for v in out}
        return sorted(out)
    return [option.default]


def complete(component, name, value):
    """The component's defaults with ``name: value``, the other options changed where a
    rule needs it (a patch size that divides the image, within the patch budget)."""
    values = {**component.defaults(), name: value}
    if component.name == "vit-stepper" and component.problems(values):
        image = component.option("image_size")
        patch = component.option("patch")
        if name == "image_size":
            values["patch"] = next(p for p in sorted(patch.offered + (value,), reverse=True)
                                   if value % p == 0 and not component.problems({**values, "patch": p}))
        elif name == "patch":
            values["image_size"] = next(s for s in sorted(set(image.offered) | {value * k for k in range(1, 7)})
                                        if s % value == 0 and s >= value and image.minimum <= s <= image.maximum
                                        and not component.problems({**values, "image_size": s}))
    for rule in component.rules:  # a Below rule (a channel of a D-wide table): widen the table
        if isinstance(rule, components.Below) and rule.problem(values) and name == rule.option:
            bound = component.option(rule.bound)
            step = bound.multiple_of or 1
            values[rule.bound] = (values[rule.option] // step + 1) * step
    assert not component.problems(values), (name, value, component.problems(values))
    return values


def directive(name, values):
    lines = [f"::: {name}"]
    for key, value in values.items():
        lines.append(f"{key}: {value!r}" if isinstance(value, str) else f"{key}: {value}")
    return "\n".join(lines + [":::", ""])


def variants():
    """(component, option, value, options) for every value to try."""
    for component in components.COMPONENTS.values():
        for option in component.options:
            if option.kind == "image":
                continue
            for value in values_to_try(option):
                yield component, option, value, complete(component, option.name, value)


class Controls(HTMLParser):
    """Per element id prefix: what each control shows selected."""

    def __init__(self):
        super().__init__()
        self.selects: dict[str, str | None] = {}  # select id -> selected value
        self.inputs: dict[str, str] = {}  # input id -> value
        self.tabs: dict[str, str] = {}  # stepper id -> selected tab's step
        self.radios: dict[str, str] = {}  # radio group name -> checked value
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "select":
            self._select = a.get("id") or a.get("name")
            self.selects[self._select] = None
        elif tag == "option" and self._select and "selected" in a:
            self.selects[self._select] = a["value"]
        elif tag == "input" and a.get("type") == "number":
            self.inputs[a["id"]] = a["value"]
        elif tag == "input" and a.get("type") == "radio" and "checked" in a:
            self.radios[a["name"]] = a["value"]
        elif a.get("role") == "tab" and a.get("aria-selected") == "true":
            self.tabs[a["id"].rsplit("-tab-", 1)[0]] = a["data-step"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One page per component, one directive per value to try; built in-process."""
    tmp = tmp_path_factory.mktemp("registry")
    content = tmp / "content"
    # The images and files the defaults name (content/images, content/models), not the pages.
    shutil.copytree(ROOT / "content", content, ignore=shutil.ignore_patterns("*.md"))
    pages: dict[str, list] = {}
    for component, option, value, values in variants():
        pages.setdefault(component.name, []).append((option, value, values))
    (content / "index.md").write_text(FRONT.format(title="Index", extra="index: true\n") + "Index.\n")
    ids = {}
    for name, cases in pages.items():
        text = FRONT.format(title=name, extra="")
        component = components.get(name)
        for i, (option, value, values) in enumerate(cases):
            if component.needs:
                text += directive(component.needs, components.get(component.needs).defaults())
            text += f"Case {i}.\n\n" + directive(name, values)
            ids[(name, option.name, value)] = f"{name}-{i}"
        (content / f"{name}.md").write_text(text, encoding="utf-8")
    folders = build.Folders(content=content, out=tmp / "out", cache=tmp / "cache")
    assert build.check(folders) == []
    build.build(folders, snapshot=False)
    parsed = {}
    for name in pages:
        page = (folders.out / f"{name}.html").read_text(encoding="utf-8")
        controls = Controls()
        controls.feed(page)
        data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S).group(1)
        instances = {i["id"]: i for i in json.loads(data)["components"]["instances"]}
        parsed[name] = (page, controls, instances)
    return parsed, ids


@pytest.mark.parametrize("component,option,value,values",
                         [pytest.param(*v, id=f"{v[0].name}-{v[1].name}-{v[2]}") for v in variants()])
def test_every_value_builds_and_is_shown_in_its_control(built, component, option, value, values):
    parsed, ids = built
    cid = ids[(component.name, option.name, value)]
    page, controls, instances = parsed[component.name]
    if option.control == "select":
        assert controls.selects[f"{cid}-{option.name}"] == str(value)
    elif option.control == "number":
        assert controls.inputs[f"{cid}-{option.name}"] == str(value)
    elif option.control == "tabs":
        assert controls.tabs[cid] == value
    elif option.control == "radio":
        choice = next(c for c in option.choices if c.value == value)
        assert controls.radios[f"{cid}-{option.name}"] == choice.group
        if choice.group == "2d":
            assert controls.selects[f"{cid}-variant"] == value
    elif option.kind == "text":
        assert str(markupsafe.escape(value)) in page
    # The page's scripts start from the authored values too.
    instance = instances[cid]
    assert instance["options"][option.name] == value
    if option.control == "select":
        assert value in instance["controls"][option.name]


RULE_CASES = [
    # (component, options, the message part, the line: "directive" or the option's name)
    ("vit-stepper", {"image_size": 64, "patch": 10}, "patch size 10 does not divide image size 64", "directive"),
    ("vit-stepper", {"image_size": 384, "patch": 4}, "9216 patches is more than this page draws (at most 1024)", "directive"),
    ("vit-stepper", {"dim": 6}, "option 'dim' of 'vit-stepper' must be a multiple of 4, got 6", "dim"),
    ("vit-stepper", {"dim": 2048}, "option 'dim' of 'vit-stepper' must be between 4 and 1280, got 2048", "dim"),
    ("resolution-change", {"dim": 10}, "option 'dim' of 'resolution-change' must be a multiple of 4", "dim"),
    ("resolution-change", {"to_grid": 25}, "must be between 2 and 24, got 25", "to_grid"),
    ("rope-shift", {"dim": 6}, "option 'dim' of 'rope-shift' must be a multiple of 4, got 6", "dim"),
    ("rope-shift", {"base": 0.5}, "option 'base' of 'rope-shift' must be between 1 and 10^6, got 0.5", "base"),
    ("resolution-change", {"channel": 9}, "channel 9 does not exist: the table has 8 channels", "directive"),
]


@pytest.mark.parametrize("name,options,message,where", RULE_CASES, ids=[c[2][:40] for c in RULE_CASES])
def test_rules_are_refused_by_check_on_their_line(tmp_path, name, options, message, where):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "images", content / "images")
    text = FRONT.format(title="T", extra="index: true\n") + "Prose.\n\n" + directive(name, options)
    (content / "index.md").write_text(text, encoding="utf-8")
    errors = build.check(build.Folders(content=content, out=tmp_path / "out", cache=tmp_path / "cache"))
    lines = text.split("\n")
    want = lines.index(f"::: {name}") + 1 if where == "directive" else \
        next(n for n, line in enumerate(lines, 1) if line.startswith(f"{where}:"))
    assert [(e.line, message in e.message) for e in errors] == [(want, True)], [str(e) for e in errors]
    assert not (tmp_path / "out").exists()


def test_needs_is_checked(tmp_path):
    content = tmp_path / "content"
    content.mkdir()
    (content / "index.md").write_text(FRONT.format(title="T", extra="index: true\n") + "::: permutation-demo\n:::\n")
    errors = build.check(build.Folders(content=content, out=tmp_path / "out", cache=tmp_path / "cache"))
    assert [(e.line, e.message) for e in errors] == [
        (7, "permutation-demo needs a vit-stepper earlier on the page (it uses its patches)")]


def test_a_broken_component_is_one_error_not_a_cascade(tmp_path):
    """A stepper with a bad option is reported once, on its line: links to it, the demo that
    needs it, and the ids of the components after it are judged as if it were right."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content" / "images", content / "images")
    text = FRONT.format(title="T", extra="index: true\n") + "\n".join([
        "[Show step 2](#vit-stepper-0&step=patch) and [the second one](#vit-stepper-1&step=patch).", "",
        "::: vit-stepper", "image_size: 384", "patch: 4", ":::", "",
        "::: permutation-demo", ":::", "",
        "::: vit-stepper", ":::", ""])
    (content / "index.md").write_text(text, encoding="utf-8")
    errors = build.check(build.Folders(content=content, out=tmp_path / "out", cache=tmp_path / "cache"))
    lines = text.split("\n")
    want = lines.index("::: vit-stepper") + 1  # a rule between two options: the directive's line
    assert [(e.line, "9216 patches" in e.message) for e in errors] == [(want, True)], [str(e) for e in errors]


def test_readme_option_table_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = components.markdown_table()
    assert table in readme, ("README.md's component table differs from the registry; paste the output of "
                             "`.venv/bin/python -m pe_engine.components` (run from pyodide_src/) between the markers")


def test_readme_facts_table_is_the_facts():
    assert build.facts_table() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README.md's facts table differs from build.facts_table(); paste its output between the markers"


def test_readme_limits_table_is_the_limits():
    assert build.limits_table() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "README.md's content limits differ from build.limits_table(); paste its output in 'Content limits'"


def test_worker_calls_are_the_components():
    from pe_engine import worker_api
    assert set(worker_api.CALLS) == set(components.COMPONENTS) | {"model_input"}


def test_reader_calls_refuse_author_only_and_unknown_options():
    stepper = components.get("vit-stepper")
    with pytest.raises(ValueError, match="unknown option 'image'"):
        stepper.view_values({"image": "/etc/passwd"}, reader=True)
    with pytest.raises(ValueError, match="must be between 4 and 1280"):
        stepper.view_values({"dim": 4096}, reader=True)
    assert stepper.view_values({"dim": 16}, reader=True)["dim"] == 16
