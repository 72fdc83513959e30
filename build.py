#!/usr/bin/env python3
"""Build the positional-embedding explainer: markdown in content/ -> static site in dist/.

    python build.py [build]      build dist/ (atomic: dist/ is replaced only on success)
    python build.py check        validate every content file, write nothing
    python build.py serve        build, serve on 127.0.0.1 and rebuild + reload on change

The build is a short pipeline of named stages, in the order they run:

    read_sources  -> content/*.md as Source(path, text)
    parse_page    -> front matter, component directives, math, Markdown -> Page
    check_site    -> cross-page checks (links, anchors), all errors at once
    bundle_assets -> hashed site CSS/JS, vendored Pyodide + Plotly, engine zip, snapshot, images
    render_pages  -> Jinja2 templates -> HTML strings
    write_site    -> files into a staging folder, then swapped in for dist/

Content mistakes raise ContentError and are printed as ``path:line: message``.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import datetime as _dt
import fcntl
import functools
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent
CONTENT = ROOT / "content"
TEMPLATES = ROOT / "site_templates"
STATIC = TEMPLATES / "static"
ENGINE_SRC = ROOT / "pyodide_src"
NODE_MODULES = ROOT / "node_modules"
CACHE = ROOT / ".cache"
DIST = ROOT / "dist"

sys.path.insert(0, str(ENGINE_SRC))

SITE = {
    "name": "ViT positional embeddings, explained",
    "lang": "en",
}
# The five Pyodide core files the page loads, and nothing else from the package.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm",
                 "python_stdlib.zip", "pyodide-lock.json")
PLOTLY_PACKAGE = "plotly.js-cartesian-dist-min"
PLOTLY_FILE = "plotly-cartesian.min.js"
# Largest image side the page offers; the source photograph is prepared at this size.
SOURCE_IMAGE_SIZE = 384
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
       "connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'")


# --------------------------------------------------------------------------- errors

class ContentError(Exception):
    """A mistake in an author's file, reported as ``path:line: message``."""

    def __init__(self, path: Path | str, line: int, message: str):
        super().__init__(message)
        self.path, self.line, self.message = Path(path), line, message

    def __str__(self) -> str:
        return f"{display_path(self.path)}:{self.line}: {self.message}"


class BuildFailed(Exception):
    """Raised with every ContentError found, or with one build-environment message."""

    def __init__(self, errors: list[ContentError] | None = None, message: str = ""):
        super().__init__(message)
        self.errors = errors or []
        self.message = message

    def report(self) -> str:
        lines = [str(e) for e in self.errors]
        if self.message:
            lines.append(f"error: {self.message}")
        return "\n".join(lines)


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- stage 1: read

@dataclasses.dataclass
class Source:
    path: Path
    text: str

    @property
    def slug(self) -> str:
        return self.path.stem


def read_sources(content_dir: Path | None = None) -> list[Source]:
    """Every content/*.md, except partials whose name starts with an underscore."""
    content_dir = content_dir or CONTENT
    sources = []
    for path in sorted(content_dir.glob("*.md")):
        if path.name.startswith("_"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise BuildFailed([ContentError(path, 1, f"file is not valid UTF-8 ({exc.reason})")])
        sources.append(Source(path, text.replace("\r\n", "\n")))
    if not sources:
        raise BuildFailed(message=f"no markdown files in {display_path(content_dir)}")
    return sources


# --------------------------------------------------------------------------- stage 2: parse

FRONT_MATTER_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    # name: (accepted types, required)
    "title": (str, True),
    "description": (str, True),
    "index": (bool, False),
    "date": ((str, _dt.date), False),
    "authors": (list, False),
}


@dataclasses.dataclass
class Page:
    source: Source
    meta: dict[str, Any]
    body_html: str = ""
    toc_html: str = ""
    anchors: set[str] = dataclasses.field(default_factory=set)
    links: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (line, target)
    images: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    components: list["Directive"] = dataclasses.field(default_factory=list)
    # What each placeholder in body_html stands for: MathML text, or a Directive to render.
    stash: list[Any] = dataclasses.field(default_factory=list)

    @property
    def is_index(self) -> bool:
        return bool(self.meta.get("index"))

    @property
    def output_name(self) -> str:
        return "index.html" if self.is_index else f"{self.source.slug}.html"


def parse_front_matter(source: Source) -> tuple[dict[str, Any], int, list[ContentError]]:
    """Split YAML front matter off. Returns (meta, first body line index, errors)."""
    import yaml

    lines = source.text.split("\n")
    errors: list[ContentError] = []
    if not lines or lines[0].lstrip("\ufeff").strip() != "---":  # editors may save a BOM
        return {}, 0, [ContentError(source.path, 1, "missing front matter: the file must start with a '---' line")]
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        return {}, 0, [ContentError(source.path, 1, "front matter is not closed: add a '---' line after it")]
    block = "\n".join(lines[1:end])
    try:
        node = yaml.compose(block)
        meta = yaml.safe_load(block) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        return {}, end + 1, [ContentError(source.path, line, f"front matter is not valid YAML: {problem}")]
    except ValueError as exc:  # a well-formed but impossible value, e.g. date: 2026-13-45
        line = next((v.start_mark.line + 2 for _, v in getattr(node, "value", [])
                     if _yaml_value_error(v)), 2)
        return {}, end + 1, [ContentError(source.path, line, f"front matter has an invalid value: {exc}")]
    if not isinstance(meta, dict):
        return {}, end + 1, [ContentError(source.path, 2, "front matter must be a mapping of 'field: value' lines")]
    key_lines = {}
    if node is not None and hasattr(node, "value") and isinstance(node.value, list):
        for key_node, _ in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + 2
    for key, value in meta.items():
        line = key_lines.get(str(key), 2)
        if key not in FRONT_MATTER_FIELDS:
            allowed = ", ".join(FRONT_MATTER_FIELDS)
            errors.append(ContentError(source.path, line, f"unknown front-matter field '{key}' (allowed: {allowed})"))
            continue
        types, _ = FRONT_MATTER_FIELDS[key]
        if not isinstance(value, types) or (types is str and not str(value).strip()):
            want = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            errors.append(ContentError(source.path, line,
                                       f"front-matter field '{key}' must be a non-empty {want}, got {value!r}"))
    for key, (_, required) in FRONT_MATTER_FIELDS.items():
        if required and key not in meta:
            errors.append(ContentError(source.path, 1, f"front matter is missing the required field '{key}'"))
        elif not required:
            meta.setdefault(key, None)  # the templates may test any optional field
    return meta, end + 1, errors


def _yaml_value_error(node) -> bool:
    """Whether constructing this YAML node raises ValueError (e.g. an impossible date)."""
    import yaml

    try:
        yaml.SafeLoader("").construct_object(node, deep=True)
    except ValueError:
        return True
    except yaml.YAMLError:
        pass
    return False


# ---- component directives:  ::: name / key: value lines / :::

@dataclasses.dataclass
class Option:
    kind: type
    default: Any
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    help: str = ""


@dataclasses.dataclass
class Directive:
    name: str
    options: dict[str, Any]
    line: int
    path: Path
    index: int = 0  # nth directive on the page, for element ids


STRATEGIES = ("learned", "sinusoidal", "sincos2d", "learned2d")
STEPS = ("input", "patch", "project", "flatten", "addpos")
COMPONENT_OPTIONS: dict[str, dict[str, Option]] = {
    "vit-stepper": {
        "image": Option(str, "images/astronaut.png", help="photograph in content/, PNG or JPEG"),
        "image_size": Option(int, 64, minimum=8, maximum=SOURCE_IMAGE_SIZE, help="side of the square input, px"),
        "patch": Option(int, 16, minimum=2, maximum=64, help="patch side P, px; must divide image_size"),
        "dim": Option(int, 8, minimum=4, maximum=64, help="embedding width D, a multiple of 4"),
        "strategy": Option(str, "learned", choices=STRATEGIES),
        "step": Option(str, "input", choices=STEPS),
        "seed": Option(int, 0, minimum=0, maximum=2**31 - 1),
    },
    "resolution-change": {
        "from_grid": Option(int, 4, minimum=2, maximum=16),
        "to_grid": Option(int, 6, minimum=2, maximum=24),
        "method": Option(str, "timm", choices=("timm", "deit", "jax")),
        "dim": Option(int, 8, minimum=4, maximum=64),
        "seed": Option(int, 0, minimum=0, maximum=2**31 - 1),
    },
    "permutation-demo": {
        "seed": Option(int, 0, minimum=0, maximum=2**31 - 1),
    },
    "relative-bias": {
        "window": Option(int, 3, minimum=2, maximum=8),
        "seed": Option(int, 0, minimum=0, maximum=2**31 - 1),
    },
    "rope-shift": {
        "grid": Option(int, 4, minimum=2, maximum=8),
        "dim": Option(int, 8, minimum=4, maximum=64),
        "base": Option(float, 100.0, minimum=1.0, maximum=1e6),
    },
}


def parse_directive(path: Path, start: int, name: str, body: list[str]) -> tuple[Directive | None, list[ContentError]]:
    """Validate one directive; ``start`` is the 1-based line of its opening fence."""
    import yaml

    errors: list[ContentError] = []
    schema = COMPONENT_OPTIONS.get(name)
    if schema is None:
        known = ", ".join(COMPONENT_OPTIONS)
        return None, [ContentError(path, start, f"unknown component '{name}' (known: {known})")]
    options = {key: opt.default for key, opt in schema.items()}
    for offset, raw in enumerate(body, start=1):
        line_no = start + offset
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        if ":" not in raw:
            errors.append(ContentError(path, line_no, f"expected 'option: value' in component '{name}', got {raw.strip()!r}"))
            continue
        key, _, value_text = raw.partition(":")
        key = key.strip()
        if key not in schema:
            errors.append(ContentError(path, line_no,
                                       f"unknown option '{key}' for component '{name}' (allowed: {', '.join(schema)})"))
            continue
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else None
        except (yaml.YAMLError, ValueError):  # ValueError: e.g. an impossible date
            errors.append(ContentError(path, line_no, f"option '{key}' has a value that is not valid YAML"))
            continue
        opt = schema[key]
        if opt.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, opt.kind) or isinstance(value, bool) != (opt.kind is bool):
            errors.append(ContentError(path, line_no,
                                       f"option '{key}' of '{name}' must be {opt.kind.__name__}, got {value!r}"))
            continue
        if opt.choices and value not in opt.choices:
            errors.append(ContentError(path, line_no,
                                       f"option '{key}' of '{name}' must be one of {', '.join(opt.choices)}; got {value!r}"))
            continue
        if opt.minimum is not None and not (opt.minimum <= value <= opt.maximum):
            errors.append(ContentError(path, line_no,
                                       f"option '{key}' of '{name}' must be between {opt.minimum:g} and {opt.maximum:g}, got {value!r}"))
            continue
        options[key] = value
    if not errors:
        errors += validate_component(path, start, name, options)
    return (None if errors else Directive(name, options, start, path)), errors


def validate_component(path: Path, line: int, name: str, o: dict[str, Any]) -> list[ContentError]:
    """Rules that tie several options together."""
    errors = []
    if name == "vit-stepper":
        if o["image_size"] % o["patch"]:
            errors.append(ContentError(path, line, f"patch {o['patch']} does not divide image_size {o['image_size']}"))
        if o["dim"] % 4:
            errors.append(ContentError(path, line, f"dim must be a multiple of 4 (2D sin-cos splits it in four), got {o['dim']}"))
        image = (CONTENT / o["image"]).resolve()
        if not image.is_relative_to(CONTENT.resolve()) or not image.is_file():
            errors.append(ContentError(path, line, f"image '{o['image']}' not found in content/"))
        elif image.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            errors.append(ContentError(path, line, f"image '{o['image']}' must be a PNG or JPEG"))
        else:
            from PIL import Image

            try:
                with Image.open(image) as im:
                    im.verify()
            except Exception:  # PIL raises several types for unreadable files
                errors.append(ContentError(path, line, f"image '{o['image']}' is not a readable PNG or JPEG file"))
    if name in ("rope-shift", "resolution-change") and o["dim"] % 4:
        errors.append(ContentError(path, line, f"dim must be a multiple of 4, got {o['dim']}"))
    return errors


# ---- math: $inline$ and $$display$$ rendered to MathML at build time

INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)((?:\\.|[^$\\\n])+?)(?<!\s)\$(?!\$)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


@functools.lru_cache(maxsize=4096)  # a preview rebuild converts every unchanged formula again
def latex_to_mathml(latex: str, display: bool) -> str:
    """Convert LaTeX with latex2mathml; raises ValueError with a readable reason."""
    from latex2mathml.converter import convert

    groups = re.sub(r"\\[{}]", "", latex)  # \{ and \} are literal braces
    if groups.count("{") != groups.count("}"):
        raise ValueError("unbalanced braces")
    if re.search(r"\\(begin|end)\{", latex):
        raise ValueError("environments (\\begin...\\end) are not supported; use one $$ block per line")
    try:
        mathml = convert(latex, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many exception types
        raise ValueError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    unknown = re.findall(r"<mi>\\([A-Za-z]+)</mi>|<mtext>\\([A-Za-z]+)</mtext>", mathml)
    if unknown:
        raise ValueError("unknown command \\" + next(a or b for a, b in unknown))
    # A wide formula scrolls inside its own box instead of widening a phone's page.
    return f'<div class="math-display">{mathml}</div>' if display else mathml


# ---- the line pass: directives, math and placeholders, with exact line numbers

# Private-use characters: Markdown leaves them alone (it strips \x02/\x03, its own markers).
PLACEHOLDER = "\ue000{}\ue001"
PLACEHOLDER_RE = re.compile("\ue000(\\d+)\ue001")
FENCE_RE = re.compile(r"^\s*(```+|~~~+)")
DIRECTIVE_OPEN = re.compile(r"^:::\s*([A-Za-z][\w-]*)?\s*$")
LINK_RE = re.compile(r"(!?)\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def preprocess(source: Source, first_line: int, errors: list[ContentError]):
    """Replace directives and math by placeholders; collect links and images with their lines.

    Returns (markdown text, stash of HTML fragments or Directives, links, images).
    """
    lines = source.text.split("\n")
    out: list[str] = [""] * first_line  # keep line numbers aligned with the file
    stash: list[Any] = []
    links: list[tuple[int, str]] = []
    images: list[tuple[int, str]] = []
    fence: str | None = None
    i = first_line
    while i < len(lines):
        line, line_no = lines[i], i + 1
        stripped = line.strip()
        m = FENCE_RE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append(line)
            i += 1
            continue
        if m:
            fence = m.group(1)
            out.append(line)
            i += 1
            continue
        d = DIRECTIVE_OPEN.match(line)
        if d:
            if not d.group(1):
                errors.append(ContentError(source.path, line_no, "a ':::' line closes nothing: name the component, e.g. '::: vit-stepper'"))
                out.append("")
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip() == ":::" or DIRECTIVE_OPEN.match(lines[j])), None)
            if end is None or lines[end].strip() != ":::":  # reached the next directive's opening
                errors.append(ContentError(source.path, line_no, f"component '{d.group(1)}' is not closed: add a ':::' line"))
                break
            directive, errs = parse_directive(source.path, line_no, d.group(1), lines[i + 1:end])
            errors.extend(errs)
            stash.append(directive)
            out.append(PLACEHOLDER.format(len(stash) - 1))
            out.extend([""] * (end - i))
            i = end + 1
            continue
        if stripped.startswith("$$"):
            indent = line[: len(line) - len(line.lstrip())]
            rest = stripped[2:]
            if rest.endswith("$$") and len(rest) >= 2:  # $$ x $$ on one line
                body, end = [rest[:-2]], i
            else:
                end = next((j for j in range(i + 1, len(lines))
                            if lines[j].strip().endswith("$$") or not lines[j].strip()), None)
                if end is None or not lines[end].strip():  # LaTeX allows no blank line in display math
                    errors.append(ContentError(source.path, line_no, "display math is not closed: add a '$$' line"))
                    break
                body = [rest] + lines[i + 1:end] + [lines[end].strip()[:-2]]
            latex = "\n".join(body).strip()
            try:
                if not latex:
                    raise ValueError("empty formula")
                stash.append(latex_to_mathml(latex, display=True))
                out.append(indent + PLACEHOLDER.format(len(stash) - 1))
            except ValueError as exc:
                errors.append(ContentError(source.path, line_no, f"math: {exc} in $${latex}$$"))
                out.append("")
            out.extend([""] * (end - i))
            i = end + 1
            continue
        # Inline: protect code spans, then convert $...$.
        code_spans: list[str] = []

        def keep_code(match: re.Match) -> str:
            code_spans.append(match.group(0))
            return f"\x04{len(code_spans) - 1}\x04"

        protected = CODE_SPAN.sub(keep_code, line)

        def inline_math(match: re.Match) -> str:
            latex = match.group(1)
            try:
                stash.append(latex_to_mathml(latex, display=False))
            except ValueError as exc:
                errors.append(ContentError(source.path, line_no, f"math: {exc} in ${latex}$"))
                return ""
            return PLACEHOLDER.format(len(stash) - 1)

        converted = INLINE_MATH.sub(inline_math, protected)
        if re.search(r"(?<![\\$])\$(?!\$)", converted):
            errors.append(ContentError(source.path, line_no, "math: unmatched '$' (write \\$ for a literal dollar sign)"))
        for lm in LINK_RE.finditer(converted):
            (images if lm.group(1) else links).append((line_no, lm.group(2)))
        converted = re.sub("\x04(\\d+)\x04", lambda mm: code_spans[int(mm.group(1))], converted)
        out.append(converted.replace("\\$", "&#36;"))
        i += 1
    return "\n".join(out), stash, links, images


def markdown_renderer():
    import markdown

    return markdown.Markdown(
        extensions=["tables", "fenced_code", "attr_list", "footnotes", "toc", "admonition",
                    "pymdownx.details", "sane_lists", "md_in_html"],
        extension_configs={
            "toc": {"permalink": "#", "permalink_title": "Link to this section", "toc_depth": "2-3"},
            "footnotes": {"BACKLINK_TITLE": "Back to reference %d"},
        },
        output_format="html",
    )


def parse_page(source: Source) -> tuple[Page, list[ContentError]]:
    """Front matter + directives + math + Markdown -> Page (components not yet rendered)."""
    meta, first_line, errors = parse_front_matter(source)
    text, stash, links, images = preprocess(source, first_line, errors)
    md = markdown_renderer()
    body = md.convert(text)
    page = Page(source, meta, body_html=body, toc_html=md.toc, links=links, images=images, stash=stash,
                anchors=set(re.findall(r'\sid="([^"]+)"', body)))
    for item in stash:
        if isinstance(item, Directive):
            item.index = len(page.components)
            page.components.append(item)
    return page, errors


# --------------------------------------------------------------------------- stage 3: cross-page checks

def check_site(pages: list[Page]) -> list[ContentError]:
    errors: list[ContentError] = []
    by_name = {p.source.path.name: p for p in pages}
    indexes = [p for p in pages if p.meta.get("index") is True]  # a non-bool is reported by parse_front_matter
    if len(indexes) != 1:
        where = indexes[1] if len(indexes) > 1 else pages[0]
        names = ", ".join(p.source.path.name for p in indexes) or "none"
        line = next((n for n, text in enumerate(where.source.text.split("\n"), 1)
                     if re.match(r"index\s*:", text)), 1) if indexes else 1
        errors.append(ContentError(where.source.path, line,
                                   f"exactly one page must set 'index: true' in its front matter (found: {names})"))
    for page in pages:
        for line, target in page.links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                continue  # external links are the reader's to follow
            file_part, _, anchor = target.partition("#")
            if not file_part:
                target_page = page
            elif file_part.endswith(".md"):
                target_page = by_name.get(Path(file_part).name)
                if target_page is None or "/" in file_part.strip("./"):
                    errors.append(ContentError(page.source.path, line, f"link to '{file_part}': no such page in content/"))
                    continue
            else:
                if not (CONTENT / file_part).resolve().is_file():
                    errors.append(ContentError(page.source.path, line, f"link to '{file_part}': no such file in content/"))
                continue
            if anchor and anchor not in target_page.anchors:
                errors.append(ContentError(page.source.path, line,
                                           f"link to '#{anchor}': no heading or element with that id in {target_page.source.path.name}"))
        for line, target in page.images:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
                errors.append(ContentError(page.source.path, line,
                                           f"image '{target}' is on another host; put it in content/images/ (the site loads nothing from outside)"))
            elif not (CONTENT / target).resolve().is_relative_to(CONTENT.resolve()):
                errors.append(ContentError(page.source.path, line, f"image '{target}' is outside content/"))
            elif not (CONTENT / target).resolve().is_file():
                errors.append(ContentError(page.source.path, line, f"image '{target}' not found in content/"))
        # Rendering needs this too; checking it here lets `check` report it.
        lines = page.source.text.split("\n")
        for directive in page.components:
            if directive.name == "permutation-demo" and not any(
                    (m := DIRECTIVE_OPEN.match(text)) and m.group(1) == "vit-stepper"
                    for text in lines[:directive.line - 1]):
                errors.append(ContentError(page.source.path, directive.line,
                                           "permutation-demo needs a vit-stepper earlier on the page (it shuffles its patches)"))
    return errors


def parse_pages(sources: list[Source], parse: Callable = None) -> tuple[list[Page], list[ContentError]]:
    """Parse every page and run the cross-page checks: (pages, every error found)."""
    results = [(parse or parse_page)(source) for source in sources]
    pages = [page for page, _ in results]
    return pages, [e for _, errs in results for e in errs] + check_site(pages)


# --------------------------------------------------------------------------- stage 4: assets

def file_hash(*paths: Path, extra: bytes = b"") -> str:
    h = hashlib.sha256(extra)
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for f in files:
            h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


@dataclasses.dataclass
class Assets:
    """Where each asset lives in the output, relative to the site root, plus files to write."""
    files: dict[str, Path | bytes] = dataclasses.field(default_factory=dict)
    urls: dict[str, str] = dataclasses.field(default_factory=dict)


def package_version(name: str) -> str:
    manifest = NODE_MODULES / name / "package.json"
    if not manifest.is_file():
        raise BuildFailed(message=f"{display_path(manifest)} is missing: run 'npm ci' (or 'make site')")
    return json.loads(manifest.read_text())["version"]


def bundle_runtime(assets: Assets) -> None:
    """Vendor the Pyodide core and the Plotly cartesian bundle under versioned folders."""
    version = package_version("pyodide")
    for name in PYODIDE_FILES:
        src = NODE_MODULES / "pyodide" / name
        if not src.is_file():
            raise BuildFailed(message=f"{display_path(src)} is missing: run 'npm ci'")
        assets.files[f"vendor/pyodide-{version}/{name}"] = src
    assets.urls["pyodide_dir"] = f"vendor/pyodide-{version}/"
    assets.urls["pyodide_version"] = version
    plotly_version = package_version(PLOTLY_PACKAGE)
    src = NODE_MODULES / PLOTLY_PACKAGE / PLOTLY_FILE
    assets.files[f"vendor/plotly-{plotly_version}/{PLOTLY_FILE}"] = src
    assets.urls["plotly"] = f"vendor/plotly-{plotly_version}/{PLOTLY_FILE}"


LIVERELOAD_SCRIPT = "js/livereload.js"


IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]+?\s+from\s+)?["'](\.{1,2}/[^"']+)["']""", re.M)


def module_graph(entry: str) -> list[str]:
    """Every module main.js imports statically, so the page can preload them all at once
    instead of discovering them one level at a time."""
    seen, todo = [], [entry]
    while todo:
        rel = todo.pop(0)
        if rel in seen or not (STATIC / rel).is_file():
            continue
        seen.append(rel)
        base = Path(rel).parent
        for target in IMPORT_RE.findall((STATIC / rel).read_text(encoding="utf-8")):
            todo.append(os.path.normpath((base / target).as_posix()))
    return seen


def bundle_static(assets: Assets, livereload: bool = False) -> None:
    """Site CSS/JS go under one folder named by their combined hash, so relative imports keep working.
    The live-reload script is only shipped by ``serve``."""
    digest = file_hash(STATIC)
    base = f"assets/site-{digest}/"
    for f in sorted(STATIC.rglob("*")):
        rel = f.relative_to(STATIC).as_posix()
        if f.is_file() and (livereload or rel != LIVERELOAD_SCRIPT):
            assets.files[base + rel] = f
    assets.urls["static"] = base
    assets.urls["modules"] = [base + rel for rel in module_graph("js/main.js")]


def strip_docstrings(source: str) -> str:
    """The engine as the browser runs it: same code, without docstrings and comments
    (the repository keeps them; the reader's download does not need them)."""
    import ast

    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


def engine_archive() -> tuple[bytes, str]:
    """pyodide_src/pe_engine as one deterministic zip for pyodide.unpackArchive.

    The zip also carries pe_engine/_build.py with the sources' hash, which the worker
    compares with the page's, so a stale snapshot is never used.
    """
    pkg = ENGINE_SRC / "pe_engine"
    if not (pkg / "__init__.py").is_file():
        raise BuildFailed(message=f"{display_path(pkg)} is missing its __init__.py")
    # bench.py is a command-line tool, not needed in the browser.
    files = [f for f in sorted(pkg.rglob("*.py")) if f.name not in ("_build.py", "bench.py")]
    digest = hashlib.sha256(b"".join(f.relative_to(ENGINE_SRC).as_posix().encode() + f.read_bytes()
                                     for f in files)).hexdigest()[:12]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        entries = [(f.relative_to(ENGINE_SRC).as_posix(), strip_docstrings(f.read_text("utf-8")).encode())
                   for f in files]
        entries.append(("pe_engine/_build.py", f'BUILD = "{digest}"\n'.encode()))
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue(), digest


def bundle_engine(assets: Assets, snapshot: bool = True) -> None:
    data, digest = engine_archive()
    assets.files[f"assets/pe_engine-{digest}.zip"] = data
    assets.urls["engine"] = f"assets/pe_engine-{digest}.zip"
    assets.urls["engine_hash"] = digest
    if snapshot:
        path = memory_snapshot(data)
        if path is not None:
            name = f"assets/snapshot-{path.name}"
            assets.files[name] = path
            assets.urls["snapshot"] = name


SNAPSHOT_SCRIPT = ENGINE_SRC / "make_snapshot.mjs"


def memory_snapshot(engine_zip: bytes) -> Path | None:
    """Boot the vendored Pyodide in Node with the engine imported and save its memory.

    Cached under .cache/snapshots by a hash of every input, so an unchanged rebuild skips it.
    Without Node or the script the site still works: the worker boots normally.
    """
    if not SNAPSHOT_SCRIPT.is_file() or shutil.which("node") is None or os.environ.get("PE_NO_SNAPSHOT"):
        return None
    pyodide_dir = NODE_MODULES / "pyodide"
    key = file_hash(*(pyodide_dir / n for n in PYODIDE_FILES), SNAPSHOT_SCRIPT,
                    extra=engine_zip)
    out = CACHE / "snapshots" / f"{key}.bin.gz"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    zip_path = out.with_suffix(".zip.tmp")
    zip_path.write_bytes(engine_zip)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    proc = subprocess.run(
        ["node", str(SNAPSHOT_SCRIPT), "--pyodide", str(pyodide_dir), "--engine", str(zip_path),
         "--out", str(tmp)],
        capture_output=True, text=True, timeout=300)
    zip_path.unlink(missing_ok=True)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise BuildFailed(message="making the Pyodide memory snapshot failed:\n" + (proc.stderr or proc.stdout)[-2000:])
    os.replace(tmp, out)
    return out


def prepare_image(relpath: str) -> tuple[Path, str]:
    """The photograph as a square PNG of SOURCE_IMAGE_SIZE, without colour chunks (so the
    browser's canvas reads back exactly the bytes Pillow wrote). Cached by content hash."""
    from PIL import Image

    src = CONTENT / relpath
    digest = file_hash(src, extra=str(SOURCE_IMAGE_SIZE).encode())
    out = CACHE / "images" / f"{src.stem}-{digest}.png"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(src) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side))
            im = im.resize((SOURCE_IMAGE_SIZE, SOURCE_IMAGE_SIZE), Image.Resampling.LANCZOS)
            tmp = out.with_suffix(f".{os.getpid()}.tmp")
            im.save(tmp, format="PNG", optimize=True)
        os.replace(tmp, out)
    return out, f"images/{out.name}"


def image_pixels(path: Path) -> list[int]:
    from PIL import Image

    with Image.open(path) as im:
        return list(im.convert("RGB").tobytes())


def bundle_assets(pages: list[Page], snapshot: bool = True, livereload: bool = False) -> Assets:
    assets = Assets()
    bundle_runtime(assets)
    bundle_static(assets, livereload)
    bundle_engine(assets, snapshot=snapshot)
    return assets


# --------------------------------------------------------------------------- stage 5: render

@functools.lru_cache(maxsize=1)
def template_env():
    """One environment per process: it compiles each template once and, with auto_reload,
    recompiles a template whose file changed (so the preview still sees template edits)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["math"] = lambda latex, display=False: __import__("markupsafe").Markup(latex_to_mathml(latex, display))
    env.filters["thousands"] = lambda x: f"{x:,}"
    return env


@dataclasses.dataclass
class RenderContext:
    assets: Assets
    env: Any
    page: Page
    root: str  # relative prefix from this page to the site root ("" for top-level pages)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # JSON handed to the page's scripts
    model_input: Any = None  # (pixels, options) of the page's stepper, for components that reuse them


_MEMO: dict[tuple, Any] = {}


def memo(fn: Callable, *args) -> Any:
    """Engine results by arguments, so a preview rebuild after a prose edit recomputes nothing.
    Cleared when pyodide_src/ changes (see Builder)."""
    key = (fn.__module__, fn.__name__, repr(args))
    if key not in _MEMO:
        _MEMO[key] = fn(*args)
    return _MEMO[key]  # shared between rebuilds: callers copy before they change it


def render_component(directive: Directive, ctx: RenderContext) -> str:
    from pe_engine import views  # imported late: the engine is only needed when rendering

    o = directive.options
    cid = f"{directive.name}-{directive.index}"
    extra: dict[str, Any] = {}
    if directive.name == "vit-stepper":
        image_path, image_url = prepare_image(o["image"])
        ctx.assets.files[image_url] = image_path
        pixels = memo(lambda path, size: views.model_input(image_pixels(path), SOURCE_IMAGE_SIZE, size),
                      image_path, o["image_size"])
        view = memo(views.stepper_view, pixels, o["image_size"], o["patch"], o["dim"], o["seed"])
        ctx.model_input = (pixels, o)
        input_png = png_bytes(pixels, o["image_size"])
        input_url = f"images/input-{hashlib.sha256(input_png).hexdigest()[:12]}.png"
        ctx.assets.files[input_url] = input_png
        extra = {"view": view, "image_url": image_url, "input_url": input_url,
                 "vit_base": views.dimensions_view(224, 16, 768), "presets": views.presets_view()}
        ctx.data["presets"] = views.presets_view()
        ctx.data["stepper"] = {"id": cid, "options": o, "image": image_url,
                               "source_size": SOURCE_IMAGE_SIZE, "view": view}
    elif directive.name == "resolution-change":
        extra = {"view": memo(views.resolution_view, o["from_grid"], o["to_grid"], o["dim"], o["method"], o["seed"])}
    elif directive.name == "permutation-demo":
        if ctx.model_input is None:
            raise BuildFailed([ContentError(directive.path, directive.line,
                                            "permutation-demo needs a vit-stepper earlier on the page (it shuffles its patches)")])
        pixels, so = ctx.model_input
        extra = {"view": dict(memo(views.permutation_view, pixels, so["image_size"], so["patch"], so["dim"], so["seed"], 1))}
        extra["view"]["stepper"] = {k: so[k] for k in ("image_size", "patch", "dim", "seed")}
    elif directive.name == "relative-bias":
        extra = {"view": memo(views.relative_bias_view, o["window"], o["seed"])}
    elif directive.name == "rope-shift":
        extra = {"view": memo(views.rope_view, o["grid"], o["dim"], o["base"])}
    if directive.name != "vit-stepper":
        ctx.data.setdefault("components", {})[cid] = {"name": directive.name, "options": o, "view": extra["view"]}
    template = ctx.env.get_template(f"components/{directive.name}.html")

    def fallback_image(figure: dict) -> str | None:
        png = cached_figure_png(figure) if figure else None
        if png is None:
            return None
        url = f"images/figure-{hashlib.sha256(png).hexdigest()[:12]}.png"
        ctx.assets.files[url] = png
        return ctx.root + url

    return template.render(id=cid, options=o, root=ctx.root, strategies=STRATEGIES, steps=STEPS,
                           fallback_image=fallback_image, **extra)


# plotly.js's own named scales (the figures name them; Plotly draws them in the browser).
FALLBACK_SCALES = {
    "RdBu": [(0, (5, 10, 172)), (0.35, (106, 137, 247)), (0.5, (190, 190, 190)), (0.6, (220, 170, 132)),
             (0.7, (230, 145, 90)), (1, (178, 10, 28))],
    "Cividis": [(0, (0, 32, 76)), (0.176471, (39, 63, 108)), (0.352941, (91, 95, 109)),
                (0.529412, (131, 129, 120)), (0.705882, (176, 165, 114)), (0.882353, (225, 204, 92)),
                (1, (255, 233, 69))],
    "Viridis": [(0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
                (1, (253, 231, 37))],
}


def figure_png(figure: dict) -> bytes | None:
    """A heatmap figure as a small PNG, for readers without JavaScript (shown in <noscript>)."""
    from PIL import Image

    trace = figure["data"][0]
    scale = FALLBACK_SCALES.get(trace.get("colorscale"))
    z = trace.get("z")
    if trace.get("type") != "heatmap" or scale is None or not z:
        return None
    values = [v for row in z for v in row if v is not None]
    lo, hi = trace.get("zmin", min(values)), trace.get("zmax", max(values))
    if trace.get("reversescale"):
        scale = [(1 - t, c) for t, c in reversed(scale)]

    def colour(v):
        if v is None:
            return (0, 0, 0, 0)
        t = min(1.0, max(0.0, (v - lo) / (hi - lo) if hi > lo else 0.5))
        for (t0, c0), (t1, c1) in zip(scale, scale[1:]):
            if t <= t1:
                f = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
                return tuple(round(a + (b - a) * f) for a, b in zip(c0, c1)) + (255,)
        return scale[-1][1] + (255,)

    rows, cols = len(z), len(z[0])
    im = Image.new("RGBA", (cols, rows))
    im.putdata([colour(v) for row in z for v in row])
    factor = max(1, min(24, 480 // max(cols, 1)))
    im = im.resize((cols * factor, rows * max(1, min(24, 360 // max(rows, 1)))), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


_PNG_MEMO: dict[int, tuple[dict, bytes | None]] = {}


def cached_figure_png(figure: dict) -> bytes | None:
    """figure_png, once per figure object (memo() hands the same figures to every rebuild)."""
    hit = _PNG_MEMO.get(id(figure))
    if hit is None or hit[0] is not figure:
        hit = _PNG_MEMO[id(figure)] = (figure, figure_png(figure))
    return hit[1]


def png_bytes(pixels: list[int], size: int) -> bytes:
    """The model's input image (after resizing) as a PNG, for the first view."""
    from PIL import Image

    im = Image.frombytes("RGB", (size, size), bytes(pixels))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def render_pages(pages: list[Page], assets: Assets) -> dict[str, str]:
    env = template_env()
    index = next(p for p in pages if p.is_index)
    nav = [{"title": p.meta["title"], "href": p.output_name} for p in pages]
    nav.sort(key=lambda item: item["href"] != "index.html")
    out = {}
    for page in pages:
        ctx = RenderContext(assets, env, page, root="")
        stash = page.stash
        rendered = [render_component(s, ctx) if isinstance(s, Directive) else s for s in stash]
        body = rewrite_links(page.body_html, pages, assets.urls.get("content_files", {}))
        # A component placeholder stands alone in its paragraph; math may sit inside text.
        body = re.sub("<p>\ue000(\\d+)\ue001</p>", lambda m: rendered[int(m.group(1))], body)
        body = PLACEHOLDER_RE.sub(lambda m: rendered[int(m.group(1))], body)
        template = env.get_template("article.html")
        out[page.output_name] = template.render(
            site=SITE, page=page.meta, body=__import__("markupsafe").Markup(body),
            toc=__import__("markupsafe").Markup(page.toc_html), nav=nav, index_href="index.html",
            is_index=page is index, assets=assets.urls, csp=CSP, root=ctx.root,
            has_components=bool(page.components), page_data=ctx.data,
            livereload=assets.urls.get("livereload"))
    return out


def rewrite_links(body: str, pages: list[Page], files: dict[str, str] | None = None) -> str:
    """Links to other .md pages point at their .html output; images and linked files at
    their hashed copies."""
    names = {p.source.path.name: p.output_name for p in pages}
    for original, hashed in (files or {}).items():
        for attr in ("src", "href"):
            for variant in (original, "./" + original):
                body = body.replace(f'{attr}="{html.escape(variant)}"', f'{attr}="{html.escape(hashed)}"')

    def fix(m: re.Match) -> str:
        target = html.unescape(m.group(2))
        file_part, sep, anchor = target.partition("#")
        file_part = file_part.removeprefix("./")
        if file_part in names:
            return f'{m.group(1)}="{html.escape(names[file_part] + sep + anchor)}"'
        return m.group(0)

    return re.sub(r'(href)="([^"#:]+\.md(?:#[^"]*)?)"', fix, body)


# --------------------------------------------------------------------------- stage 6: write

RENAME_EXCHANGE = 2


def swap_directories(new: Path, current: Path) -> None:
    """Put ``new`` in place of ``current`` atomically where the OS allows it."""
    if not current.exists():
        os.rename(new, current)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        AT_FDCWD = -100
        if renameat2(AT_FDCWD, os.fsencode(new), AT_FDCWD, os.fsencode(current), RENAME_EXCHANGE) == 0:
            shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old build
            return
    old = current.with_name(current.name + f".old-{os.getpid()}")
    os.rename(current, old)
    os.rename(new, current)
    shutil.rmtree(old, ignore_errors=True)


def write_site(html_pages: dict[str, str], assets: Assets, dist: Path) -> None:
    """Write everything into a staging folder next to dist/, then swap it in."""
    staging = dist.with_name(f"{dist.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for rel, content in assets.files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                try:
                    os.link(content, target)  # cheap and safe: sources are replaced, never edited in place
                except OSError:
                    shutil.copyfile(content, target)
        for name, text in html_pages.items():
            (staging / name).write_text(text, encoding="utf-8")
        (staging / ".nojekyll").write_text("")
        swap_directories(staging, dist)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def clean_stale_staging(dist: Path) -> None:
    """Remove staging folders left by builds that were killed."""
    for stale in dist.parent.glob(f"{dist.name}.staging-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    for stale in dist.parent.glob(f"{dist.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def build_lock():
    """One build at a time: a second one waits for the first to finish."""
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / "build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another build is running; waiting for it to finish…", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- the pipeline

class Builder:
    """Runs the pipeline, remembering the slow parts between runs (used by ``serve``).

    A prose edit re-parses and re-renders the pages and reuses the bundled assets and the
    engine's pre-computed views; a change under site_templates/static or pyodide_src/
    re-bundles what depends on it.
    """

    def __init__(self, dist: Path | None = None, snapshot: bool = True, livereload: bool = False):
        self.dist = dist or DIST
        self.snapshot = snapshot
        self.livereload = livereload
        self.assets: Assets | None = None
        self._parsed: dict[tuple[Path, str], tuple[Page, list[ContentError]]] = {}

    def parse(self, sources: list[Source], changed: set[Path] | None) -> list[Page]:
        """parse_pages, reusing the parse of every file whose text is unchanged since the last
        run; only while nothing else in content/ changed (a page's checks look at its images)."""
        if changed is None or any(CONTENT in p.parents and p.suffix != ".md" for p in changed):
            self._parsed.clear()
        parsed = {}

        def parse_or_reuse(source: Source):
            key = (source.path, source.text)
            parsed[key] = self._parsed.get(key) or parse_page(source)
            return parsed[key]

        pages, errors = parse_pages(sources, parse_or_reuse)
        self._parsed = parsed
        if errors:
            raise BuildFailed(errors)
        return pages

    def rebuild(self, changed: set[Path] | None = None) -> dict[str, float]:
        timings: dict[str, float] = {}

        def stage(name: str, fn: Callable, *args, **kwargs):
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            timings[name] = time.perf_counter() - t0
            return result

        engine_changed = changed is None or any(ENGINE_SRC in p.parents for p in changed)
        static_changed = changed is None or any(STATIC in p.parents for p in changed)
        if engine_changed:
            _MEMO.clear()
            _PNG_MEMO.clear()
            for name in [m for m in sys.modules if m == "pe_engine" or m.startswith("pe_engine.")]:
                del sys.modules[name]  # import the edited engine afresh
        with build_lock():
            clean_stale_staging(self.dist)
            sources = stage("read", read_sources)
            pages = stage("parse", self.parse, sources, changed)
            if self.assets is None or engine_changed or static_changed:
                self.assets = stage("assets", bundle_assets, pages, snapshot=self.snapshot,
                                    livereload=self.livereload)
                if self.livereload:
                    self.assets.urls["livereload"] = self.assets.urls["static"] + LIVERELOAD_SCRIPT
            assets = dataclasses.replace(self.assets, files=dict(self.assets.files))
            content_files: dict[str, str] = {}
            for page in pages:
                # Images, and other files of content/ that the prose links to.
                for _, target in page.images + page.links:
                    local = target.partition("#")[0].removeprefix("./")
                    if (local and not local.endswith(".md") and not re.match(r"^[a-z][a-z0-9+.-]*:", local, re.I)
                            and not local.startswith("/") and (CONTENT / local).resolve().is_file()
                            and (CONTENT / local).resolve().is_relative_to(CONTENT.resolve())):
                        # Named by content hash, like every asset, so hosts may cache it for good.
                        path = Path(local)
                        hashed = (path.parent / f"{path.stem}-{file_hash(CONTENT / local)}{path.suffix}").as_posix()
                        assets.files[hashed] = CONTENT / local
                        content_files[local] = hashed
            assets.urls["content_files"] = content_files
            html_pages = stage("render", render_pages, pages, assets)
            stage("write", write_site, html_pages, assets, self.dist)
        return timings


def build(dist: Path | None = None, snapshot: bool = True) -> dict[str, float]:
    """One full build; dist/ is only touched by the final swap."""
    return Builder(dist, snapshot).rebuild()


def check() -> list[ContentError]:
    """Every problem in content/, without writing anything."""
    try:
        sources = read_sources()
    except BuildFailed as exc:
        return exc.errors or [ContentError(CONTENT, 1, exc.message)]
    _, errors = parse_pages(sources)
    return sorted(errors, key=lambda e: (str(e.path), e.line))


# --------------------------------------------------------------------------- live preview (serve)

class LiveReload:
    """Server-sent events to every open page: 'reload' after a good build, 'failure' with
    the ``path:line: message`` report after a bad one (the last good build stays served)."""

    def __init__(self):
        import queue
        import threading

        self._queue_type = queue.Queue
        self.lock = threading.Lock()
        self.clients: list = []
        self.error: str | None = None

    def subscribe(self):
        q = self._queue_type()
        with self.lock:
            self.clients.append(q)
        if self.error:
            q.put(("failure", self.error))
        return q

    def unsubscribe(self, q) -> None:
        with self.lock:
            if q in self.clients:
                self.clients.remove(q)

    def publish(self, event: str, data: str = "") -> None:
        self.error = data if event == "failure" else None
        with self.lock:
            for q in self.clients:
                q.put((event, data))


def make_handler(dist: Path, live: LiveReload):
    import http.server
    import queue

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(dist), **kwargs)

        def log_message(self, *args):  # keep the author's terminal for build messages
            pass

        def end_headers(self):
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def do_GET(self):
            if self.path.split("?")[0] != "/__live/events":
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            q = live.subscribe()
            try:
                self.wfile.write(b": connected\n\n")
                self.wfile.flush()
                while True:
                    try:
                        event, data = q.get(timeout=10)
                    except queue.Empty:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        payload = json.dumps(data)
                        self.wfile.write(f"event: {event}\ndata: {payload}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                live.unsubscribe(q)

    return Handler


def serve(port: int, snapshot: bool = True) -> int:
    """Build, serve dist/ on 127.0.0.1, rebuild on every save and reload the open pages."""
    import http.server
    import threading

    import watchfiles

    live = LiveReload()
    builder = Builder(DIST, snapshot=snapshot, livereload=True)
    try:
        builder.rebuild()
        print(f"built {display_path(DIST)}/")
    except BuildFailed as exc:
        live.publish("failure", exc.report())
        print(exc.report(), file=sys.stderr)
        if not DIST.exists():
            print("nothing to serve until the content builds", file=sys.stderr)
    http.server.ThreadingHTTPServer.daemon_threads = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(DIST, live))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C to stop); watching content/, "
          "site_templates/ and pyodide_src/", flush=True)
    watched = [p for p in (CONTENT, TEMPLATES, ENGINE_SRC) if p.exists()]
    try:
        for changes in watchfiles.watch(*watched, debounce=10, step=5):
            changed = {Path(path) for _, path in changes}
            t0 = time.perf_counter()
            try:
                builder.rebuild(changed)
            except BuildFailed as exc:
                live.publish("failure", exc.report())
                print(exc.report(), file=sys.stderr, flush=True)
                continue
            except Exception as exc:  # a bug in a template or the engine: report, keep serving
                live.publish("failure", f"{type(exc).__name__}: {exc}")
                print(f"rebuild failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            # A prose edit is patched into the open page (fast); anything else, or the first good
            # build after a failed one, reloads it.
            prose_only = live.error is None and all(p.suffix == ".md" and CONTENT in p.parents for p in changed)
            live.publish("reload", "content" if prose_only else "full")
            names = ", ".join(sorted(display_path(p) for p in changed))
            print(f"rebuilt in {(time.perf_counter() - t0) * 1000:.0f} ms after {names}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    global CONTENT, DIST
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--content", default=str(CONTENT), help="folder of markdown pages (default: content/)")
    sub = parser.add_subparsers(dest="command")
    p_build = sub.add_parser("build", parents=[common], help="build dist/ (the default)")
    p_build.add_argument("--out", help="output folder (default: dist/)")
    p_build.add_argument("--no-snapshot", action="store_true", help="skip the Pyodide memory snapshot")
    sub.add_parser("check", parents=[common], help="validate content/ and print every problem; writes nothing")
    p_serve = sub.add_parser("serve", parents=[common], help="live preview on 127.0.0.1 with rebuild and reload")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--out", help="output folder (default: dist/)")
    p_serve.add_argument("--no-snapshot", action="store_true")
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["build", *argv]  # build is the default subcommand
    args = parser.parse_args(argv)
    command = args.command
    CONTENT = Path(args.content).resolve()
    DIST = Path(args.out).resolve() if getattr(args, "out", None) else DIST

    if command == "check":
        errors = check()
        for e in errors:
            print(e)
        print(f"{len(errors)} problem(s) found" if errors else "content OK", file=sys.stderr)
        return 1 if errors else 0
    if command == "serve":
        return serve(args.port, snapshot=not args.no_snapshot)
    try:
        t0 = time.perf_counter()
        timings = build(snapshot=not getattr(args, "no_snapshot", False))
        detail = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
        print(f"built {display_path(DIST)}/ in {time.perf_counter() - t0:.2f} s ({detail})")
        return 0
    except BuildFailed as exc:
        print(exc.report(), file=sys.stderr)
        print("build failed; dist/ was left as it was", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
