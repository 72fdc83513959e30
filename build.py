#!/usr/bin/env python3
"""Build the positional-embedding explainer: markdown in content/ -> static site in dist/.

    python build.py [build]      build dist/ (atomic: dist/ is replaced only on success)
    python build.py check        validate every content file, write nothing
    python build.py serve        build, serve on 127.0.0.1 and rebuild + reload on change

The build is a short pipeline of named stages, in the order they run:

    read_sources     -> content/*.md as Source(path, text), within the content limits
    parse_page       -> front matter, component directives, math, Markdown, HTML policy -> Page
    check_site       -> cross-page checks (output names, ids, links, images), all errors at once
    compute_views    -> each component's view from the engine (pe_engine.components)
    bundle_assets    -> hashed site CSS/JS, vendored Pyodide + Plotly, engine zip, snapshot
    collect_files    -> the images and files of content/ that the pages use, under hashed names
    render_pages     -> Jinja2 templates -> HTML strings
    write_site       -> files into a staging folder, then swapped in for the output folder

``check`` runs the first four stages, so content that passes it builds. Content mistakes
are ContentError, printed as ``path:line: message``. The folders are one ``Folders`` value.
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
import itertools
import json
import os
import pickle
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "pyodide_src"))

SITE = {"name": "ViT positional embeddings, explained", "lang": "en"}
# The five Pyodide core files the page loads, and nothing else from the package.
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PLOTLY_PACKAGE = "plotly.js-cartesian-dist-min"
PLOTLY_FILE = "plotly-cartesian.min.js"
# The source photograph is prepared at the largest image size the stepper offers.
SOURCE_IMAGE_SIZE = 384
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
       "connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'")
# The file that marks a folder as this build's output: only such a folder (or an empty
# one) is ever replaced.
STAMP = ".pe-site-build"


@dataclasses.dataclass(frozen=True)
class Folders:
    """Where the build reads and writes. Passed to every stage, so tests can build in-process."""
    content: Path = ROOT / "content"
    out: Path = ROOT / "dist"
    cache: Path = ROOT / ".cache"
    templates: Path = ROOT / "site_templates"
    engine: Path = ROOT / "pyodide_src"
    node_modules: Path = ROOT / "node_modules"

    @property
    def static(self) -> Path:
        return self.templates / "static"

    @property
    def sources(self) -> tuple[Path, ...]:
        """What the build reads and must never write into."""
        return (self.content, self.templates, self.engine, ROOT)


def _limit(default, what: str, unit: str = ""):
    return dataclasses.field(default=default, metadata={"what": what, "unit": unit})


@dataclasses.dataclass(frozen=True)
class Limits:
    """Content is bounded: each limit is checked before parsing (README: "Content limits", which
    is limits_table()). Parsing itself also runs under a deadline and a memory cap, for whatever
    slips through."""
    file_bytes: int = _limit(512 * 1024, "a page file", "bytes")
    line_chars: int = _limit(5_000, "a line", "characters")
    nesting: int = _limit(12, "nesting of lists, quotes and indentation", "levels")
    # Python-Markdown is quadratic in them
    brackets_per_block: int = _limit(400, "`[` in one paragraph")
    emphasis_run: int = _limit(32, "`*` or `_` in a row")
    front_matter_bytes: int = _limit(16 * 1024, "front matter", "bytes")
    image_bytes: int = _limit(20 * 1024 * 1024, "an image file", "bytes")
    image_pixels: int = _limit(40_000_000, "an image's pixels", "pixels")
    parse_seconds: float = _limit(20.0, "Markdown's deadline, in a forked child", "s")
    parse_memory: int = _limit(1 << 30, "the memory of each forked child (Markdown, the facts, a view)", "bytes")
    view_seconds: float = _limit(30.0, "computing one component's view, in a forked child", "s")
    fact_chars: int = _limit(200, "a fact `{= … =}`", "characters")
    facts_seconds: float = _limit(10.0, "every fact of a build together, in a forked child", "s")


def limits_table(limits: "Limits" = None) -> str:
    """The README's table of content limits (a test keeps the README equal to it)."""
    limits = limits or Limits()

    def shown(value, unit):
        if unit == "bytes":
            for size, name in ((1 << 30, "GiB"), (1 << 20, "MB"), (1 << 10, "KB")):
                if value >= size:
                    return f"{value / size:g} {name}"
        if unit == "pixels":
            return f"{value / 1e6:g} MP"
        return f"{value:,g} {unit}".rstrip()

    rows = ["| limit | value |", "|---|---|"]
    for f in dataclasses.fields(limits):
        rows.append(f"| {f.metadata['what']} | {shown(getattr(limits, f.name), f.metadata['unit'])} |")
    return "\n".join(rows)


LIMITS = Limits()


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
    except (ValueError, OSError, RuntimeError):
        return str(path)


def short(value: Any, limit: int = 60) -> str:
    """repr() cut to a readable length (values in messages come from authors' files)."""
    return clip(repr(value), limit)


def clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# --------------------------------------------------------------------------- stage 1: read

@dataclasses.dataclass
class Source:
    path: Path
    text: str

    @property
    def slug(self) -> str:
        return self.path.stem


def read_content_file(path: Path, folders: Folders, limit: int) -> bytes:
    """The bytes of a regular file inside content/, at most ``limit`` of them.

    A symlink may point anywhere inside content/; devices, pipes, folders and anything
    outside are refused. The file is opened non-blocking, so a FIFO cannot hang the build.
    """
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ContentError(path, 1, "the file cannot be read: it is missing, or a link that goes nowhere")
    if not real.is_relative_to(folders.content.resolve()):
        raise ContentError(path, 1, "the file is a link to a file outside content/")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ContentError(path, 1, f"the file cannot be read ({exc.strerror})")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ContentError(path, 1, "the file is not a regular file (it is a folder, device or pipe)")
        if info.st_size > limit:
            raise ContentError(path, 1, f"the file is {info.st_size // 1024} KB; the limit is {limit // 1024} KB")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise ContentError(path, 1, f"the file is over {limit // 1024} KB; the limit is {limit // 1024} KB")
        return b"".join(chunks)
    finally:
        os.close(fd)


PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.md")


def read_sources(folders: Folders, limits: Limits = LIMITS) -> tuple[list[Source], list[ContentError]]:
    """Every content/*.md except partials (a leading underscore), and the errors in reading them."""
    sources, errors = [], []
    for path in sorted(folders.content.glob("*.md")):
        if path.name.startswith("_"):
            continue
        try:
            if not PAGE_NAME.fullmatch(path.name):
                raise ContentError(path, 1, "page file names may use only letters, digits, '-', '_' and '.'")
            data = read_content_file(path, folders, limits.file_bytes)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[:exc.start].count(b"\n") + 1
                raise ContentError(path, line, f"file is not valid UTF-8 ({exc.reason} at byte {exc.start})")
            sources.append(Source(path, text.replace("\r\n", "\n").replace("\r", "\n")))
        except ContentError as err:
            errors.append(err)
    if not sources and not errors:
        errors.append(ContentError(folders.content, 1, f"no markdown files in {display_path(folders.content)}"))
    return sources, errors


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
class Directive:
    name: str
    options: dict[str, Any]
    line: int
    path: Path
    index: int = 0  # nth directive of this name on the page, for element ids
    view: dict | None = None  # computed by compute_views
    # Options that did not pass their checks (already reported): the directive keeps its id, so
    # links to it, the components after it and their ids are judged as if it were right.
    broken: bool = False

    @property
    def id(self) -> str:
        return f"{self.name}-{self.index}"


@dataclasses.dataclass
class Page:
    source: Source
    meta: dict[str, Any]
    body_html: str = ""
    toc_html: str = ""
    anchors: set[str] = dataclasses.field(default_factory=set)  # every element id (anchor_line finds one's line)
    first_line: int = 1  # the first line after the front matter
    urls: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)  # (line, "link"|"image", url)
    components: list[Directive] = dataclasses.field(default_factory=list)
    broken: list[Directive] = dataclasses.field(default_factory=list)  # reported already; never rendered
    # What each placeholder in body_html stands for: MathML text, or a Directive to render.
    stash: list[Any] = dataclasses.field(default_factory=list)

    @property
    def is_index(self) -> bool:
        return bool(self.meta.get("index"))

    @property
    def output_name(self) -> str:
        return "index.html" if self.is_index else f"{self.source.slug}.html"

    def line_of(self, pattern: str) -> int:
        return next((n for n, text in enumerate(self.source.text.split("\n"), 1) if re.match(pattern, text)), 1)


def yaml_load(text: str, first_line: int) -> Any:
    """safe_load, refusing anchors and aliases (a few hundred bytes of them expand to gigabytes)."""
    import yaml

    try:
        for token in yaml.scan(text):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                raise ContentError("", first_line + token.start_mark.line,
                                   "YAML anchors and aliases (&name, *name) are not allowed here")
        return yaml.safe_load(text)
    except RecursionError:
        raise ContentError("", first_line, "the YAML nests too deeply") from None


def parse_front_matter(source: Source, limits: Limits = LIMITS) -> tuple[dict[str, Any], int, list[ContentError]]:
    """Split YAML front matter off. Returns (meta, first body line index, errors)."""
    import yaml

    lines = source.text.split("\n")
    errors: list[ContentError] = []
    if not lines or lines[0].lstrip("\ufeff").strip() != "---":  # editors may save a BOM
        return {}, 0, [ContentError(source.path, 1, "missing front matter: the file must start with a '---' line")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return {}, 0, [ContentError(source.path, 1, "front matter is not closed: add a '---' line after it")]
    block = "\n".join(lines[1:end])
    if len(block.encode()) > limits.front_matter_bytes:
        return {}, end + 1, [ContentError(source.path, 2, f"front matter is over {limits.front_matter_bytes // 1024} KB")]
    try:
        meta = yaml_load(block, 2) or {}
        node = yaml.compose(block)
    except ContentError as exc:
        return {}, end + 1, [ContentError(source.path, exc.line, exc.message)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark else 0)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        return {}, end + 1, [ContentError(source.path, line, f"front matter is not valid YAML: {short(problem, 120)}")]
    except ValueError as exc:  # a well-formed but impossible value, e.g. date: 2026-13-45
        line = next((v.start_mark.line + 2 for _, v in getattr(yaml.compose(block), "value", [])
                     if _yaml_value_error(v)), 2)
        return {}, end + 1, [ContentError(source.path, line, f"front matter has an invalid value: {exc}")]
    if not isinstance(meta, dict):
        return {}, end + 1, [ContentError(source.path, 2, "front matter must be a mapping of 'field: value' lines")]
    key_lines = {}
    if node is not None and isinstance(getattr(node, "value", None), list):
        for key_node, _ in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + 2
    for key, value in meta.items():
        line = key_lines.get(str(key), 2)
        if key not in FRONT_MATTER_FIELDS:
            allowed = ", ".join(FRONT_MATTER_FIELDS)
            errors.append(ContentError(source.path, line, f"unknown front-matter field {short(key)} (allowed: {allowed})"))
            continue
        types, _ = FRONT_MATTER_FIELDS[key]
        ok = isinstance(value, types) and not (types is str and not str(value).strip())
        if key == "authors" and ok:
            ok = all(isinstance(a, str) and a.strip() for a in value)
        if not ok:
            want = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            errors.append(ContentError(source.path, line,
                                       f"front-matter field '{key}' must be a non-empty {want}, got {short(value)}"))
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


# ---- limits, checked before anything is parsed

FENCE_RE = re.compile(r"^\s*(```+|~~~+)")
NESTING_PREFIX = re.compile(r"\s{0,3}(?:>|[-*+](?=\s)|\d{1,9}[.)](?=\s))\s?")


def check_limits(source: Source, limits: Limits) -> list[ContentError]:
    """Lines, nesting, link brackets and emphasis runs within Limits (README: "Content limits").
    Each kind of problem is reported once, on its first line."""
    found: dict[str, ContentError] = {}

    def problem(kind: str, line: int, message: str) -> None:
        found.setdefault(kind, ContentError(source.path, line, message))

    brackets, block_start = 0, 0
    fence = None
    for n, line in enumerate(source.text.split("\n"), 1):
        if len(line) > limits.line_chars:
            problem("line", n, f"line is {len(line)} characters long; the limit is {limits.line_chars} (break it up)")
            continue
        m = FENCE_RE.match(line)
        if fence or m:
            if m and (fence is None or (m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence))):
                fence = None if fence else m.group(1)
            continue
        rest = line.expandtabs(4)
        depth = (len(rest) - len(rest.lstrip(" "))) // 4
        rest = rest.lstrip(" ")
        while (p := NESTING_PREFIX.match(rest)) and p.end() > 0:
            depth += 1
            rest = rest[p.end():]
        if depth > limits.nesting:
            problem("nesting", n, f"lists, quotes or indentation nest {depth} levels deep; the limit is {limits.nesting}")
        run = max((len(r) for r in re.findall(r"[*_]{2,}", line)), default=0)
        if run > limits.emphasis_run:
            problem("emphasis", n, f"{run} '*' or '_' in a row; the limit is {limits.emphasis_run}")
        if not line.strip():
            brackets, block_start = 0, n + 1
        else:
            before = brackets
            brackets += line.count("[")
            if before <= limits.brackets_per_block < brackets:
                problem("brackets", n, f"this paragraph (from line {block_start}) has more than "
                                       f"{limits.brackets_per_block} '[' characters")
    return sorted(found.values(), key=lambda e: e.line)


# ---- component directives:  ::: name / key: value lines / :::

DIRECTIVE_OPEN = re.compile(r"^:::\s*([A-Za-z][\w-]*)?\s*$")


def parse_directive(path: Path, start: int, name: str, body: list[str]) -> tuple[Directive | None, list[ContentError]]:
    """Read and validate one directive with its declaration in pe_engine.components;
    ``start`` is the 1-based line of its opening fence."""
    import yaml
    from pe_engine import components

    try:
        component = components.get(name)
    except ValueError:
        known = ", ".join(components.COMPONENTS)
        return None, [ContentError(path, start, f"unknown component {short(name)} (known: {known})")]
    errors: list[ContentError] = []
    values, lines = component.defaults(), {}
    names = [o.name for o in component.options]
    for offset, raw in enumerate(body, start=1):
        line_no = start + offset
        if not raw.strip() or raw.strip().startswith("#"):
            continue
        if ":" not in raw:
            errors.append(ContentError(path, line_no, f"expected 'option: value' in component '{name}', got {short(raw.strip())}"))
            continue
        key, _, value_text = raw.partition(":")
        key = key.strip()
        if key not in names:
            errors.append(ContentError(path, line_no, f"unknown option {short(key)} for component '{name}' "
                                                      f"(allowed: {', '.join(names)})"))
            continue
        try:
            value = yaml_load(value_text, line_no) if value_text.strip() else None
        except ContentError as exc:
            errors.append(ContentError(path, line_no, exc.message))
            continue
        except (yaml.YAMLError, ValueError):  # ValueError: e.g. an impossible date
            errors.append(ContentError(path, line_no, f"option '{key}' has a value that is not valid YAML"))
            continue
        if component.option(key).kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[key], lines[key] = value, line_no
    problems = component.problems(values)
    if errors:  # a line that could not be read: only the options' own problems, not the rules
        problems = [(option, message) for option, message in problems if option]
    errors += [ContentError(path, lines.get(option, start), message) for option, message in problems]
    return Directive(name, values, start, path, broken=bool(errors)), sorted(errors, key=lambda e: e.line)


# ---- math: $inline$ and $$display$$ rendered to MathML at build time

INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)((?:\\.|[^$\\\n])+?)(?<!\s)\$(?!\$)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
NUMERIC_REF = re.compile(r"&#x([0-9A-Fa-f]+);|&#(\d+);")


@functools.lru_cache(maxsize=4096)  # a preview rebuild converts every unchanged formula again
def latex_to_mathml(latex: str, display: bool) -> str:
    """Convert LaTeX with latex2mathml; raises ValueError with a readable reason.

    latex2mathml's own serialiser unescapes its output, so '<' in \\text{} would become
    markup: the tree is serialised here instead, with every text node escaped.
    """
    from xml.etree import ElementTree

    from latex2mathml.converter import convert_to_element

    groups = re.sub(r"\\[{}]", "", latex)  # \{ and \} are literal braces
    if groups.count("{") != groups.count("}"):
        raise ValueError("unbalanced braces")
    if re.search(r"\\(begin|end)\{", latex):
        raise ValueError("environments (\\begin...\\end) are not supported; use one $$ block per line")
    try:
        tree = convert_to_element(latex, display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises many exception types
        raise ValueError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
    decode = lambda text: NUMERIC_REF.sub(lambda m: chr(int(m.group(1), 16) if m.group(1) else int(m.group(2))), text)
    for node in tree.iter():
        if node.tag in ("mi", "mtext") and node.text and re.fullmatch(r"\\[A-Za-z]+", node.text):
            raise ValueError("unknown command " + node.text)
        node.text = decode(node.text) if node.text else node.text
        node.tail = decode(node.tail) if node.tail else node.tail
        node.attrib = {k: decode(v) for k, v in node.attrib.items()}
    mathml = ElementTree.tostring(tree, encoding="unicode", short_empty_elements=False)
    # A wide formula scrolls inside its own box instead of widening a phone's page.
    return f'<div class="math-display">{mathml}</div>' if display else mathml


# ---- facts: {= name(arguments) :format =} is replaced by the engine's value at build time

FACT_RE = re.compile(r"\{=(.+?)=\}")


def split_format(text: str) -> tuple[str, str | None]:
    """'similarity("a", 1, 2) :.2f' -> ('similarity("a", 1, 2)', '.2f'): the last ':' outside
    quotes and brackets starts the format."""
    depth, quote, cut = 0, None, None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == ":" and depth == 0:
            cut = i
    return (text, None) if cut is None else (text[:cut].strip(), text[cut + 1:].strip())


def evaluate_fact(node, known: dict):
    """A fact expression: calls of known facts on literals, and + − × ÷ ** on their values."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow}
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate_fact(node.operand, known)
    if isinstance(node, ast.BinOp) and type(node.op) in ops:
        left, right = evaluate_fact(node.left, known), evaluate_fact(node.right, known)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("an exponent above 64 is not needed in prose")
        return ops[type(node.op)](left, right)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(evaluate_fact(e, known) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name not in known:
            raise ValueError(f"unknown fact {name!r} (known: {', '.join(sorted(known))})")
        args = [evaluate_fact(a, known) for a in node.args]
        try:
            return memo(known[name], *args) if not name.startswith("record") else known[name](*args)
        except TypeError as exc:
            raise ValueError(f"{name}(…): {exc}") from None
        except (ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
            raise ValueError(f"{name}(…): {clip(str(exc), 120)}") from None
    raise ValueError("a fact is a call like similarity('sinusoidal', 5, 4), with literals and + − * / between them")


def record(folders: Folders, path: str, *keys):
    """A value from a committed JSON record in content/ (e.g. the trained model's)."""
    target = content_path(path, folders) if isinstance(path, str) else None
    if target is None or target.suffix != ".json":
        raise ValueError(f"record {path!r} must be a .json file in content/")
    try:
        value = json.loads(read_content_file(target, folders, LIMITS.file_bytes * 4))
    except ContentError as exc:
        raise ValueError(f"record {path!r}: {exc.message}") from None
    for key in keys:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"record {path!r} has no {key!r} where it was looked for") from None
    return value


def record_difference(folders: Folders, path: str, a: str, b: str):
    """record(path, a) − record(path, b): how much two numbers of a record differ."""
    return record(folders, path, a) - record(folders, path, b)


def library_version(name: str) -> str:
    """The version of a library the site uses: an npm package the build vendors, or a Python
    package of the build (pinned in package-lock.json and requirements.txt)."""
    from importlib import metadata

    manifest = Folders.node_modules / name / "package.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())["version"]
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise ValueError(f"{name!r} is neither a vendored npm package nor an installed Python package") from None


BUILD_FACTS = {"record": record, "record_difference": record_difference, "version": library_version}


def facts_table() -> str:
    """The README's list of facts, from their docstrings (a test keeps the README equal to it)."""
    import inspect

    from pe_engine import facts

    rows = ["| fact | what it gives |", "|---|---|"]
    for name, fn in sorted({**facts.FACTS, **BUILD_FACTS}.items()):
        params = [("*" if p.kind is p.VAR_POSITIONAL else "") + p.name
                  for p in inspect.signature(fn).parameters.values() if p.name != "folders"]
        doc = " ".join(inspect.getdoc(fn).split())
        rows.append(f"| `{name}({', '.join(params)})` | {doc} |")
    return "\n".join(rows)


def fact_value(expression: str, folders: Folders) -> str:
    """The text a fact stands for; ValueError with a readable reason."""
    import ast

    from pe_engine import facts

    known = {**facts.FACTS, **{name: functools.partial(fn, folders) if name.startswith("record") else fn
                               for name, fn in BUILD_FACTS.items()}}
    if len(expression) > LIMITS.fact_chars:
        raise ValueError(f"a fact is at most {LIMITS.fact_chars} characters (this one has {len(expression)})")
    code, spec = split_format(expression.strip())
    if spec and (len(spec) > 12 or any(int(n) > 100 for n in re.findall(r"\d+", spec))):
        raise ValueError(f"format {clip(spec)!r} is longer or wider than prose needs")
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        raise ValueError(f"{clip(code)!r} is not a fact expression") from None
    try:
        value = evaluate_fact(tree.body, known)
    except (ArithmeticError, OverflowError) as exc:
        raise ValueError(f"{clip(code)}: {exc}") from None
    if isinstance(value, float) and value.is_integer() and not spec:
        value = int(value)
    try:
        text = format(value, spec) if spec else (f"{value:.3g}" if isinstance(value, float) else str(value))
    except (ValueError, TypeError):
        raise ValueError(f"format {spec!r} does not apply to {short(value)}") from None
    return html.escape(text)


# The facts of the pages being built: expression -> ("ok", text) or ("error", reason).
_FACTS: dict[str, tuple[str, str]] = {}


def _fact_texts(expressions: list[str], folders: Folders) -> dict[str, tuple[str, str]]:
    """expression -> ("ok", text) or ("error", reason); run in a bounded child (compute_facts)."""
    out = {}
    for expression in expressions:
        try:
            out[expression] = ("ok", fact_value(expression, folders))
        except ValueError as exc:
            out[expression] = ("error", str(exc))
        except RecursionError:
            out[expression] = ("error", f"{clip(expression.strip())} nests too deeply")
    return out


def compute_facts(sources: list["Source"], folders: Folders, limits: Limits = LIMITS) -> None:
    """Every fact the pages quote, computed before they are parsed, in a forked child under a
    deadline and the memory cap: a fact may call the engine with any sizes an author types.
    If that fails, each fact is tried alone (with a share of the deadline) to name the culprit."""
    _FACTS.clear()
    todo = sorted({m.group(1) for source in sources for m in FACT_RE.finditer(source.text)})
    if not todo:
        return
    why = {TimeoutError: "it took too long", MemoryError: f"it needed more than {limits.parse_memory >> 20} MB"}
    try:
        _FACTS.update(run_with_memo(_fact_texts, todo, folders, seconds=limits.facts_seconds,
                                    memory=limits.parse_memory))
        return
    except (TimeoutError, MemoryError, RecursionError, RuntimeError):
        pass
    budget = time.monotonic() + limits.facts_seconds
    for expression in todo:
        left = budget - time.monotonic()
        if left <= 0:
            _FACTS[expression] = ("error", "not computed: other facts on these pages took too long")
            continue
        try:
            _FACTS.update(run_with_memo(_fact_texts, [expression], folders,
                                        seconds=min(left, limits.facts_seconds / 5), memory=limits.parse_memory))
        except (TimeoutError, MemoryError, RecursionError, RuntimeError) as exc:
            _FACTS[expression] = ("error", f"{clip(expression.strip())}: {why.get(type(exc), short(str(exc)))}")


def substitute_facts(text: str, path: Path, line_no: int, folders: Folders, errors: list[ContentError]) -> str:
    def replace(m: re.Match) -> str:
        try:
            kind, value = _FACTS.get(m.group(1)) or ("ok", fact_value(m.group(1), folders))
        except ValueError as exc:
            kind, value = "error", str(exc)
        if kind == "ok":
            return value
        errors.append(ContentError(path, line_no, f"fact: {value}"))
        return ""
    return FACT_RE.sub(replace, text) if "{=" in text else text


# ---- the line pass: directives and math become placeholders, with exact line numbers

# Private-use characters: Markdown leaves them alone (it strips \x02/\x03, its own markers).
PLACEHOLDER = "\ue000{}\ue001"
PLACEHOLDER_RE = re.compile("\ue000(\\d+)\ue001")


def preprocess(source: Source, first_line: int, errors: list[ContentError],
               folders: Folders | None = None) -> tuple[str, list[Any]]:
    """Replace facts by their values, and directives and math by placeholders. Returns
    (markdown text, stash of HTML fragments or Directives)."""
    folders = folders or Folders(content=source.path.parent)
    lines = source.text.split("\n")
    out: list[str] = [""] * first_line  # keep line numbers aligned with the file
    stash: list[Any] = []
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
                errors.append(ContentError(source.path, line_no, f"component {short(d.group(1))} is not closed: add a ':::' line"))
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
            latex = html.unescape(substitute_facts("\n".join(body).strip(), source.path, line_no, folders, errors))
            try:
                if not latex:
                    raise ValueError("empty formula")
                stash.append(latex_to_mathml(latex, display=True))
                out.append(indent + PLACEHOLDER.format(len(stash) - 1))
            except ValueError as exc:
                errors.append(ContentError(source.path, line_no, f"math: {exc} in $${clip(latex, 200)}$$"))
                out.append("")
            out.extend([""] * (end - i))
            i = end + 1
            continue
        # Inline: protect code spans, then convert $...$.
        code_spans: list[str] = []

        def keep_code(match: re.Match) -> str:
            code_spans.append(match.group(0))
            return f"\x04{len(code_spans) - 1}\x04"

        protected = substitute_facts(CODE_SPAN.sub(keep_code, line), source.path, line_no, folders, errors)

        def inline_math(match: re.Match) -> str:
            latex = match.group(1)
            try:
                stash.append(latex_to_mathml(latex, display=False))
            except ValueError as exc:
                errors.append(ContentError(source.path, line_no, f"math: {exc} in ${clip(latex, 200)}$"))
                return ""
            return PLACEHOLDER.format(len(stash) - 1)

        converted = INLINE_MATH.sub(inline_math, protected)
        if re.search(r"(?<![\\$])\$(?!\$)", converted):
            errors.append(ContentError(source.path, line_no, "math: unmatched '$' (write \\$ for a literal dollar sign)"))
        converted = re.sub("\x04(\\d+)\x04", lambda mm: code_spans[int(mm.group(1))], converted)
        out.append(converted.replace("\\$", "&#36;"))
        i += 1
    return "\n".join(out), stash


# ---- Markdown, and the raw-HTML policy

MARKDOWN_EXTENSIONS = ["tables", "fenced_code", "attr_list", "footnotes", "toc", "admonition",
                       "pymdownx.details", "sane_lists", "md_in_html"]

# What the HTML of a page may contain: Python-Markdown's own output, and this small safe
# subset for authors' raw HTML. Enforced by nh3 (the Ammonia sanitiser) on every page, and
# reported by check_html as path:line errors.
HTML_POLICY = {
    "tags": {"a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
             "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
             "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
             "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
             "var", "wbr"},
    "attributes": {"*": {"id", "class", "title", "lang", "dir"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
                   "td": {"style", "align", "colspan", "rowspan"}, "th": {"style", "align", "colspan", "rowspan", "scope"},
                   "ol": {"start", "type"}, "li": {"value"}, "details": {"open"}},
    "style_properties": {"text-align"},
    "url_schemes": {"http", "https", "mailto"},
}
URL_ATTRIBUTES = {("a", "href"), ("img", "src")}


def sanitize(body: str) -> str:
    import nh3

    return nh3.clean(body, tags=HTML_POLICY["tags"], attributes=HTML_POLICY["attributes"],
                     url_schemes=HTML_POLICY["url_schemes"], filter_style_properties=HTML_POLICY["style_properties"],
                     link_rel=None, strip_comments=True)


class _HtmlScan(HTMLParser):
    """Tags, attributes and URLs of a page's HTML, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[tuple[str, str]] = []  # (needle to find in the source, message)
        self.urls: list[tuple[str, str]] = []  # ("link"|"image", url)
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in HTML_POLICY["tags"]:
            self.problems.append((f"<{tag}", f"raw HTML <{tag}> is not allowed (see 'Raw HTML' in the README)"))
            return
        allowed = HTML_POLICY["attributes"]["*"] | HTML_POLICY["attributes"].get(tag, set())
        for name, value in attrs:
            value = value or ""
            if name not in allowed:
                self.problems.append((name, f"attribute '{name}' on <{tag}> is not allowed"))
            elif (tag, name) in URL_ATTRIBUTES:
                scheme = re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                if scheme and scheme.group(1).lower() not in HTML_POLICY["url_schemes"]:
                    self.problems.append((value[:40], f"a {scheme.group(1)}: URL is not allowed"))
                else:
                    self.urls.append(("image" if tag == "img" else "link", value))
            elif name == "id":
                self.ids.append(value)

    handle_startendtag = handle_starttag


def convert_markdown(text: str) -> tuple[str, str]:
    """Python-Markdown -> (body HTML, table of contents HTML)."""
    import markdown

    md = markdown.Markdown(
        extensions=MARKDOWN_EXTENSIONS,
        extension_configs={
            "toc": {"permalink": "#", "permalink_title": "Link to this section", "toc_depth": "2-3"},
            "footnotes": {"BACKLINK_TITLE": "Back to reference %d"},
        },
        output_format="html",
    )
    body = md.convert(text)
    return body, md.toc


def run_bounded(fn: Callable, *args, seconds: float, memory: int, keep: tuple[type, ...] = ()):
    """fn(*args) in a forked child with a deadline and a memory cap; raises TimeoutError or
    MemoryError, RecursionError, an exception of a type in ``keep`` as itself, or any other that
    fn raised as RuntimeError. Where fork is missing, it just calls fn."""
    if not hasattr(os, "fork"):
        return fn(*args)
    import resource

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send the pickled answer, exit without cleanup
        status = 0
        try:
            os.close(read_end)
            with open(f"/proc/{os.getpid()}/statm") as fh:
                mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            resource.setrlimit(resource.RLIMIT_AS, (mapped + memory, mapped + memory))
            try:
                answer = ("ok", fn(*args))
            except BaseException as exc:  # sent to the parent, which decides
                kept = next((i for i, kind in enumerate(keep) if isinstance(exc, kind)), None)
                answer = ("error", (type(exc).__name__, str(exc)[:500], kept))
            data = pickle.dumps(answer)
            with os.fdopen(write_end, "wb") as fh:
                fh.write(data)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError(f"took longer than {seconds:g} s")
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not chunks:
        raise MemoryError("ran out of memory")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "error":
        name, message, kept = value
        if kept is not None:
            raise keep[kept](message)
        raise (MemoryError if name == "MemoryError" else RecursionError if name == "RecursionError"
               else RuntimeError)(f"{name}: {message}")
    return value


def find_line(lines: list[str], needle: str, start: int = 0) -> int:
    """The 1-based line of the first line at or after ``start`` that contains ``needle`` (1 if none)."""
    return LineFinder(lines, start)(needle)


class LineFinder:
    """Where a piece of the converted page came from in its source. Pieces come in document
    order, so each search goes on from the last find (and wraps round): a whole page costs
    about one pass over its lines, not one pass per piece."""

    def __init__(self, lines: list[str], start: int = 0):
        self.lines, self.start, self.cursor = lines, start, start
        self.missing: set[str] = set()

    def __call__(self, needle: str) -> int:
        if needle in self.missing:
            return 1
        for variant in (needle, html.escape(needle, quote=False), html.escape(needle)):
            for n in itertools.chain(range(self.cursor, len(self.lines)), range(self.start, self.cursor)):
                if variant and variant in self.lines[n]:
                    self.cursor = n
                    return n + 1
        self.missing.add(needle)
        return 1


HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*(?:\{([^}]*)\})?\s*#*\s*$")


def anchor_line(lines: list[str], anchor: str, start: int) -> int:
    """The line of the heading (or element) whose id is ``anchor``."""
    from markdown.extensions.toc import slugify

    for n in range(start, len(lines)):
        m = HEADING.match(lines[n])
        if m and (f"#{anchor}" in (m.group(2) or "").split() or
                  not m.group(2) and slugify(re.sub(r"[*_`]", "", m.group(1)), "-") == anchor):
            return n + 1
    return find_line(lines, f"#{anchor}", start) if find_line(lines, f"#{anchor}", start) > 1 else find_line(lines, anchor, start)


def parse_page(source: Source, limits: Limits = LIMITS) -> tuple[Page, list[ContentError]]:
    """Front matter + directives + math + Markdown -> Page (components not yet computed)."""
    errors = check_limits(source, limits)
    if errors:
        return Page(source, {}), errors
    meta, first_line, errors = parse_front_matter(source, limits)
    text, stash = preprocess(source, first_line, errors, Folders(content=source.path.parent))
    try:
        body, toc = run_bounded(convert_markdown, text, seconds=limits.parse_seconds, memory=limits.parse_memory)
    except (TimeoutError, MemoryError, RecursionError, RuntimeError) as exc:
        reason = {TimeoutError: f"it took longer than {limits.parse_seconds:g} s",
                  MemoryError: f"it needed more than {limits.parse_memory >> 20} MB",
                  RecursionError: "it nests too deeply"}.get(type(exc), f"Markdown failed ({short(str(exc), 120)})")
        return Page(source, meta), errors + [ContentError(source.path, 1, f"this page could not be converted: {reason}")]
    page = Page(source, meta, toc_html=toc, stash=stash, first_line=first_line)
    lines = source.text.split("\n")
    scan = _HtmlScan()
    scan.feed(body)
    scan.close()
    for needle, message in scan.problems:
        errors.append(ContentError(source.path, find_line(lines, needle, first_line), message))
    where = LineFinder(lines, first_line)
    for kind, url in scan.urls:
        page.urls.append((where(url), kind, url))
    page.body_html = sanitize(body)
    page.anchors = set(scan.ids)
    counts: dict[str, int] = {}
    for item in stash:
        if isinstance(item, Directive):
            item.index = counts.get(item.name, 0)
            counts[item.name] = item.index + 1
            (page.broken if item.broken else page.components).append(item)
    return page, errors


# --------------------------------------------------------------------------- stage 3: cross-page checks

EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:|^//", re.I)
# Ids the page template itself uses: a heading may not take them.
RESERVED_IDS = {"main", "page-data", "runtime-data", "contents"}


def reserved_id(anchor: str) -> bool:
    from pe_engine import components

    return anchor in RESERVED_IDS or any(re.match(rf"{re.escape(n)}-\d+(-|$)", anchor) for n in components.COMPONENTS)


def local_part(url: str) -> str:
    """A relative URL without its anchor, query and leading './': how the prose names a file."""
    return url.partition("#")[0].partition("?")[0].removeprefix("./")


def content_path(target: str, folders: Folders) -> Path | None:
    """The file in content/ a relative URL names, or None if it leaves content/ (by '..', an
    absolute path or a link pointing out) or could name no file at all."""
    from urllib.parse import unquote

    local = unquote(local_part(target))
    parts = PurePosixPath(local).parts
    if (not local or local.startswith("/") or "\\" in local or "\0" in local or ".." in parts
            or len(local.encode()) > 1024 or any(len(part.encode()) > 255 for part in parts)):
        return None
    path = folders.content.joinpath(*parts)
    try:
        if not path.resolve().is_relative_to(folders.content.resolve()):
            return None
    except (OSError, RuntimeError, ValueError):
        return None
    return path


def hashed_copy(path: Path, folders: Folders, assets: "Assets") -> str:
    """Put a content file in the site under a name carrying its content hash (so hosts may
    cache it for good); returns that name, relative to the site's root."""
    rel = path.relative_to(folders.content)
    hashed = (rel.parent / f"{rel.stem}-{file_hash(path)}{rel.suffix}").as_posix()
    assets.files[hashed] = path
    return hashed


def check_site(pages: list[Page], folders: Folders, limits: Limits = LIMITS,
               unreadable: frozenset = frozenset()) -> list[ContentError]:
    """Checks across pages. ``unreadable``: names of pages that could not be read (their own
    error is reported; links to them are not)."""
    from pe_engine import components

    errors: list[ContentError] = []
    by_name = {p.source.path.name: p for p in pages}
    indexes = [p for p in pages if p.meta.get("index") is True]
    if len(indexes) != 1 and pages:
        where = indexes[1] if len(indexes) > 1 else pages[0]
        names = ", ".join(p.source.path.name for p in indexes) or "none"
        errors.append(ContentError(where.source.path, where.line_of(r"index\s*:") if indexes else 1,
                                   f"exactly one page must set 'index: true' in its front matter (found: {names})"))
    outputs: dict[str, Page] = {}
    for page in pages:
        other = outputs.setdefault(page.output_name, page)
        if other is not page and not (page.is_index and other.is_index):  # two indexes: reported above
            why = f"{other.source.path.name} (index: true, line {other.line_of(r'index:')})" if other.is_index \
                else f"{other.source.path.name} (line 1)"
            errors.append(ContentError(page.source.path, page.line_of(r"index\s*:") if page.is_index else 1,
                                       f"this page and {why} would both be written to {page.output_name}"))
    for page in pages:
        for anchor in sorted(filter(reserved_id, page.anchors)):
            line = anchor_line(page.source.text.split("\n"), anchor, page.first_line)
            errors.append(ContentError(page.source.path, line, f"the id '{anchor}' is used by the page itself; "
                                                                   "give the heading another with {#another-id}"))
        for line, kind, target in page.urls:
            if EXTERNAL.match(target):
                if kind == "image":
                    errors.append(ContentError(page.source.path, line, f"image {short(target)} is on another host; put it "
                                                                       "in content/images/ (the site loads nothing from outside)"))
                continue  # external links are the reader's to follow
            file_part, _, anchor = target.partition("#")
            if not file_part and "&" in anchor:  # an inline action: #component-id&key=value…
                errors += [ContentError(page.source.path, line, f"link to '#{clip(anchor)}': {p}")
                           for p in action_problems(page, anchor)]
                continue
            if not file_part:
                if anchor and anchor not in page.anchors:
                    errors.append(ContentError(page.source.path, line, f"link to '#{clip(anchor)}': no heading or "
                                                                       f"element with that id in {page.source.path.name}"))
                continue
            path = content_path(target, folders)
            if path is None:
                errors.append(ContentError(page.source.path, line, f"image {short(file_part)} is outside content/"
                                           if kind == "image" else f"link to {short(file_part)}: it is outside content/"))
                continue
            if kind == "link" and path.suffix == ".md":
                target_page = by_name.get(path.name)
                if target_page is None and path.name in unreadable:
                    continue
                if target_page is None or path.parent != folders.content:
                    errors.append(ContentError(page.source.path, line, f"link to {short(file_part)}: no such page in content/"))
                elif anchor and anchor not in target_page.anchors:
                    errors.append(ContentError(page.source.path, line, f"link to '#{clip(anchor)}': no heading or "
                                                                       f"element with that id in {target_page.source.path.name}"))
                continue
            if not path.exists():
                errors.append(ContentError(page.source.path, line, f"image {short(file_part)} not found in content/"
                                           if kind == "image" else f"link to {short(file_part)}: no such file in content/"))
                continue
            try:
                read_content_file(path, folders, limits.image_bytes)
                problem = image_problem(path, limits) if kind == "image" else None
            except ContentError as exc:
                problem = exc.message
            if problem:
                errors.append(ContentError(page.source.path, line, f"image {short(file_part)}: {problem}"
                                           if kind == "image" else f"link to {short(file_part)}: {problem}"))
        seen: set[str] = set()
        for d in sorted(page.components + page.broken, key=lambda d: d.line):
            seen.add(d.name)
            if d.broken:
                continue
            component = components.get(d.name)
            if component.needs and component.needs not in seen:
                errors.append(ContentError(page.source.path, d.line, f"{d.name} needs a {component.needs} earlier on "
                                                                     f"the page (it uses its patches)"))
            for option in component.options:
                if option.kind == "image":
                    errors.extend(ContentError(page.source.path, d.line, f"image {short(d.options[option.name])} {p}")
                                  for p in [image_option_problem(d.options[option.name], folders, limits)] if p)
                elif option.kind == "file":
                    errors.extend(ContentError(page.source.path, d.line, f"file {short(d.options[option.name])} "
                                                                         f"(option '{option.name}') {p}")
                                  for p in [file_option_problem(d.options[option.name], folders, limits)] if p)
    return errors


def action_problems(page: Page, fragment: str) -> list[str]:
    """An inline action names a component on the page and valid settings for it."""
    from urllib.parse import parse_qsl

    from pe_engine import components

    anchor, _, query = fragment.partition("&")
    target = next((d for d in page.components + page.broken if d.id == anchor), None)
    if target is None:
        ids = ", ".join(d.id for d in page.components + page.broken) or "none on this page"
        return [f"no component with that id (components: {ids})"]
    if target.broken:
        return []  # its own line already says what is wrong
    return components.get(target.name).fragment_problems(dict(parse_qsl(query, keep_blank_values=True)), target.options)


def image_problem(path: Path, limits: Limits) -> str | None:
    """Why an image file cannot be used (its header and its whole data are decoded), or None."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.width * im.height > limits.image_pixels:
                return f"it is {im.width} × {im.height} pixels; the limit is {limits.image_pixels // 10**6} MP"
            im.load()
    except Exception:  # Pillow raises many types for damaged files
        return "it is not a readable image file (damaged, or not an image)"
    return None


def image_option_problem(rel: str, folders: Folders, limits: Limits) -> str | None:
    path = content_path(rel, folders)
    if path is None:
        return "is outside content/"
    if not path.is_file():
        return "not found in content/"
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        return "must be a PNG or JPEG"
    try:
        read_content_file(path, folders, limits.image_bytes)
    except ContentError as exc:
        return exc.message
    problem = image_problem(path, limits)
    return problem and "is not a readable PNG or JPEG file" if problem and "readable" in problem else problem


def file_option_problem(rel: str, folders: Folders, limits: Limits) -> str | None:
    """Why a "file" option's value cannot be used (a regular file in content/, within the
    image size limit), or None."""
    path = content_path(rel, folders)
    if path is None:
        return "is outside content/"
    if not path.is_file():
        return "not found in content/"
    try:
        read_content_file(path, folders, limits.image_bytes)
    except ContentError as exc:
        return exc.message
    return None


def parse_pages(sources: list[Source], folders: Folders, parse: Callable | None = None,
                unreadable: frozenset = frozenset()) -> tuple[list[Page], list[ContentError]]:
    """Parse every page and run the cross-page checks: (pages, every error found)."""
    results = [(parse or parse_page)(source) for source in sources]
    pages = [page for page, _ in results]
    return pages, [e for _, errs in results for e in errs] + check_site(pages, folders, unreadable=unreadable)


# --------------------------------------------------------------------------- stage 4: the engine's views

_MEMO: dict[tuple, Any] = {}


def memo(fn: Callable, *args) -> Any:
    """Engine results by arguments, so a preview rebuild after a prose edit recomputes nothing.
    Cleared when pyodide_src/ changes (see Builder). Callers copy before they change a result."""
    key = memo_key(fn, args)
    if key not in _MEMO:
        _MEMO[key] = fn(*args)
    return _MEMO[key]


def memo_key(fn: Callable, args: tuple) -> tuple:
    return getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), repr(args)


def run_with_memo(fn: Callable, *args, seconds: float, memory: int, keep: tuple[type, ...] = ()) -> Any:
    """run_bounded(fn, *args), bringing back what the child added to the memo too (the engine
    results it computed on the way), so the parent never computes them again."""
    def in_child():
        before = set(_MEMO)
        value = fn(*args)
        return value, {key: v for key, v in _MEMO.items() if key not in before}

    value, added = run_bounded(in_child, seconds=seconds, memory=memory, keep=keep)
    _MEMO.update(added)
    return value


def prepare_image(rel: str, folders: Folders) -> Path:
    """A content image as a square PNG of SOURCE_IMAGE_SIZE, without colour chunks (so the
    browser's canvas reads back exactly the bytes Pillow wrote). Cached by content hash."""
    from PIL import Image

    src = content_path(rel, folders)  # as check read it
    digest = file_hash(src, extra=str(SOURCE_IMAGE_SIZE).encode())
    out = folders.cache / "images" / f"{src.stem}-{digest}.png"
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
    return out


def image_pixels(path: Path) -> list[int]:
    from PIL import Image

    with Image.open(path) as im:
        return list(im.convert("RGB").tobytes())


class BuildInputs:
    """views.Inputs for the build: the component's photograph, resized by the engine, with
    every size asked for remembered (the page shows that model input as a PNG), and the
    bytes of its "file" options (``files``: option name -> path in content/)."""

    def __init__(self, image: Path | None, needed: dict | None, files: dict[str, Path] | None = None):
        self.image, self.needed, self.sizes = image, needed, []
        self.files = dict(files or {})

    def file(self, name: str) -> bytes:
        if name not in self.files:
            raise ValueError(f"this component has no file option '{name}'")
        path = self.files[name]
        return memo(lambda p, digest: p.read_bytes(), path, file_hash(path))

    def file_key(self) -> tuple:
        """The files by content, for memo(): an edited file is a new view."""
        return tuple((name, str(path), file_hash(path)) for name, path in sorted(self.files.items()))

    def pixels(self, size: int) -> list[int]:
        from pe_engine import views

        if self.image is None:
            raise ValueError("this component has no image")
        self.sizes.append(size)
        return memo(lambda path, s: views.model_input(image_pixels(path), SOURCE_IMAGE_SIZE, s), self.image, size)


def directive_inputs(d: Directive, page: Page, folders: Folders) -> BuildInputs:
    """What a directive's view reads: the options of the component it needs (the nearest
    one before it), and a photograph: its own image option's, or that component's."""
    from pe_engine import components

    earlier = page.components[:page.components.index(d)]
    needs = components.get(d.name).needs
    needed = next((n for n in reversed(earlier) if n.name == needs), None) if needs else None
    image = None
    for owner in (d, needed):
        option = owner and next((o.name for o in components.get(owner.name).options if o.kind == "image"), None)
        if option:
            image = prepare_image(owner.options[option], folders)
            break
    files = {o.name: content_path(d.options[o.name], folders) for o in components.get(d.name).options if o.kind == "file"}
    return BuildInputs(image, needed.options if needed else None, files)


# What an engine view raises on content it cannot use: a content error on the directive's line.
VIEW_ERRORS = (ValueError, ArithmeticError, LookupError, TypeError, AttributeError)


def compute_views(pages: list[Page], folders: Folders, limits: Limits = LIMITS) -> list[ContentError]:
    """Every directive's first view, from the engine. An engine error is a content error on
    the directive's line."""
    from pe_engine import components

    errors = []
    for page in pages:
        for d in page.components:
            inputs = directive_inputs(d, page, folders)
            state = {"all_strategies": True} if any(o.name == "all_strategies" for o in components.get(d.name).state) else {}
            args = (d.name, inputs.image, inputs.needed, {**d.options, **state}, inputs.file_key())
            key = memo_key(_compute, args)
            try:
                if key not in _MEMO:  # in a child with a deadline: a file option's content is the author's
                    _MEMO[key] = run_with_memo(_compute, *args, seconds=limits.view_seconds,
                                               memory=limits.parse_memory, keep=VIEW_ERRORS)
                d.view = _MEMO[key]
            except TimeoutError:
                errors.append(ContentError(page.source.path, d.line, f"{d.name}: computing it took longer than "
                                                                     f"{limits.view_seconds:g} s"))
            except MemoryError:
                errors.append(ContentError(page.source.path, d.line, f"{d.name}: computing it needed more than "
                                                                     f"{limits.parse_memory >> 20} MB"))
            except RecursionError:
                errors.append(ContentError(page.source.path, d.line, f"{d.name}: its data nests too deeply"))
            except VIEW_ERRORS as exc:  # a file the view reads (a record, weights) that is not what it expects
                errors.append(ContentError(page.source.path, d.line, f"{d.name}: {clip(str(exc), 200)}"))
    return errors


def _compute(name: str, image: Path | None, needed: dict | None, values: dict, files: tuple = ()) -> dict:
    from pe_engine import components

    inputs = BuildInputs(image, needed, {option: Path(path) for option, path, _ in files})
    view = components.get(name).compute(inputs, values)
    view["_input_sizes"] = sorted(set(inputs.sizes))
    return view


# --------------------------------------------------------------------------- stage 5: assets

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
    urls: dict[str, Any] = dataclasses.field(default_factory=dict)


def package_version(folders: Folders, name: str) -> str:
    manifest = folders.node_modules / name / "package.json"
    if not manifest.is_file():
        raise BuildFailed(message=f"{display_path(manifest)} is missing: run 'npm ci' (or 'make site')")
    return json.loads(manifest.read_text())["version"]


def bundle_runtime(assets: Assets, folders: Folders) -> None:
    """Vendor the Pyodide core and the Plotly cartesian bundle under versioned folders."""
    version = package_version(folders, "pyodide")
    for name in PYODIDE_FILES:
        src = folders.node_modules / "pyodide" / name
        if not src.is_file():
            raise BuildFailed(message=f"{display_path(src)} is missing: run 'npm ci'")
        assets.files[f"vendor/pyodide-{version}/{name}"] = src
    assets.urls["pyodide_dir"] = f"vendor/pyodide-{version}/"
    assets.urls["pyodide_version"] = version
    plotly_version = package_version(folders, PLOTLY_PACKAGE)
    assets.files[f"vendor/plotly-{plotly_version}/{PLOTLY_FILE}"] = folders.node_modules / PLOTLY_PACKAGE / PLOTLY_FILE
    assets.urls["plotly"] = f"vendor/plotly-{plotly_version}/{PLOTLY_FILE}"
    assets.urls["colorscales"] = PLOTLY_SCALES  # for the page's canvas renderer (plots.js)


IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]+?\s+from\s+)?["'](\.{1,2}/[^"']+)["']""", re.M)


def module_graph(static: Path, entries: list[str]) -> list[str]:
    """Every module the entries import statically, so the page can preload them all at once
    instead of discovering them one level at a time."""
    seen, todo = [], list(entries)
    while todo:
        rel = todo.pop(0)
        if rel in seen or not (static / rel).is_file():
            continue
        seen.append(rel)
        base = Path(rel).parent
        for target in IMPORT_RE.findall((static / rel).read_text(encoding="utf-8")):
            todo.append(os.path.normpath((base / target).as_posix()))
    return seen


def bundle_static(assets: Assets, folders: Folders) -> None:
    """Site CSS/JS go under one folder named by their combined hash, so relative imports keep working."""
    digest = file_hash(folders.static)
    base = f"assets/site-{digest}/"
    for f in sorted(folders.static.rglob("*")):
        if f.is_file():
            assets.files[base + f.relative_to(folders.static).as_posix()] = f
    assets.urls["static"] = base


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


def engine_archive(folders: Folders) -> tuple[bytes, str]:
    """pyodide_src/pe_engine as one deterministic zip for pyodide.unpackArchive.

    The zip also carries pe_engine/_build.py with the sources' hash, which the worker
    compares with the page's, so a stale snapshot is never used.
    """
    pkg = folders.engine / "pe_engine"
    if not (pkg / "__init__.py").is_file():
        raise BuildFailed(message=f"{display_path(pkg)} is missing its __init__.py")
    files = [f for f in sorted(pkg.rglob("*.py")) if f.name != "_build.py"]
    digest = hashlib.sha256(b"".join(f.relative_to(folders.engine).as_posix().encode() + f.read_bytes()
                                     for f in files)).hexdigest()[:12]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        entries = [(f.relative_to(folders.engine).as_posix(), strip_docstrings(f.read_text("utf-8")).encode())
                   for f in files]
        entries.append(("pe_engine/_build.py", f'BUILD = "{digest}"\n'.encode()))
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue(), digest


def bundle_engine(assets: Assets, folders: Folders, snapshot: bool = True) -> None:
    data, digest = engine_archive(folders)
    assets.files[f"assets/pe_engine-{digest}.zip"] = data
    assets.urls["engine"] = f"assets/pe_engine-{digest}.zip"
    assets.urls["engine_hash"] = digest
    if snapshot:
        path = memory_snapshot(data, folders)
        if path is not None:
            name = f"assets/snapshot-{path.name}"
            assets.files[name] = path
            assets.urls["snapshot"] = name


def memory_snapshot(engine_zip: bytes, folders: Folders) -> Path | None:
    """Boot the vendored Pyodide in Node with the engine imported and save its memory.

    Cached under .cache/snapshots by a hash of every input, so an unchanged rebuild skips it.
    Without Node or the script the site still works: the worker boots normally.
    """
    script = folders.engine / "make_snapshot.mjs"
    if not script.is_file() or shutil.which("node") is None or os.environ.get("PE_NO_SNAPSHOT"):
        return None
    pyodide_dir = folders.node_modules / "pyodide"
    key = file_hash(*(pyodide_dir / n for n in PYODIDE_FILES), script, extra=engine_zip)
    out = folders.cache / "snapshots" / f"{key}.bin.gz"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    zip_path = out.with_name(out.name + f".{os.getpid()}.zip")
    zip_path.write_bytes(engine_zip)
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    proc = subprocess.run(["node", str(script), "--pyodide", str(pyodide_dir), "--engine", str(zip_path),
                           "--out", str(tmp)], capture_output=True, text=True, timeout=300)
    zip_path.unlink(missing_ok=True)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise BuildFailed(message="making the Pyodide memory snapshot failed:\n" + (proc.stderr or proc.stdout)[-2000:])
    os.replace(tmp, out)
    return out


def bundle_assets(folders: Folders, snapshot: bool = True) -> Assets:
    assets = Assets()
    bundle_runtime(assets, folders)
    bundle_static(assets, folders)
    bundle_engine(assets, folders, snapshot=snapshot)
    return assets


# --------------------------------------------------------------------------- stage 6: the files pages use

def collect_files(pages: list[Page], assets: Assets, folders: Folders) -> dict[str, str]:
    """The images and other files of content/ that the prose links to, copied under names
    carrying their content hash (so hosts may cache them for good). Returns original -> hashed."""
    copied: dict[str, str] = {}
    for page in pages:
        for _, _, target in page.urls:
            path = None if EXTERNAL.match(target) else content_path(target, folders)
            if path is None or path.suffix == ".md" or not path.is_file():
                continue
            copied[local_part(target)] = hashed_copy(path, folders, assets)
    return copied


# --------------------------------------------------------------------------- stage 7: render

@functools.lru_cache(maxsize=4)
def template_env(templates: Path):
    """One environment per template folder: it compiles each template once and, with
    auto_reload, recompiles a template whose file changed (so the preview sees template edits)."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["math"] = lambda latex, display=False: markupsafe.Markup(latex_to_mathml(latex, display))
    env.filters["thousands"] = lambda x: f"{x:,}"
    return env


@dataclasses.dataclass
class RenderContext:
    assets: Assets
    env: Any
    page: Page
    folders: Folders
    root: str  # relative prefix from this page to the site root ("" for top-level pages)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)  # JSON handed to the page's scripts


def render_component(d: Directive, ctx: RenderContext) -> str:
    """A directive through its template, components/<name>.html, with its view and controls."""
    from pe_engine import components
    from pe_engine.resample import METHOD_NAMES

    component = components.get(d.name)
    view = d.view
    extra: dict[str, Any] = {}
    image_option = next((o.name for o in component.options if o.kind == "image"), None)
    if image_option:
        source = prepare_image(d.options[image_option], ctx.folders)
        extra["image_url"] = f"images/{source.name}"
        ctx.assets.files[extra["image_url"]] = source
        extra["input_urls"] = {}
        extra["input_webp_urls"] = {}
        for size in view.get("_input_sizes", []):
            png = png_bytes(directive_inputs(d, ctx.page, ctx.folders).pixels(size), size)
            url = f"images/input-{hashlib.sha256(png).hexdigest()[:12]}.png"
            ctx.assets.files[url] = png
            extra["input_urls"][size] = url
            webp = webp_lossless(png)
            extra["input_webp_urls"][size] = url[:-4] + ".webp"
            ctx.assets.files[url[:-4] + ".webp"] = webp
    controls = {o.name: o.offered_with(d.options[o.name]) for o in component.options if o.control == "select"}
    instance = {"name": d.name, "id": d.id, "options": d.options, "controls": controls,
                "view": {k: v for k, v in view.items() if not k.startswith("_")}}
    if image_option:
        instance.update(image=extra["image_url"], source_size=SOURCE_IMAGE_SIZE,
                        image_limits={"bytes": LIMITS.image_bytes, "pixels": LIMITS.image_pixels},  # a reader's upload
                        input=extra["input_urls"].get(d.options.get("image_size")))
    # "file" options: the file under a name carrying its content hash; its URL (relative to
    # the page) in the instance data, for the page's scripts to hand to the engine.
    for option in (o for o in component.options if o.kind == "file"):
        path = content_path(d.options[option.name], ctx.folders)
        hashed = hashed_copy(path, ctx.folders, ctx.assets)
        instance.setdefault("files", {})[option.name] = {"path": d.options[option.name], "url": ctx.root + hashed,
                                                         "bytes": path.stat().st_size}
    if component.needs:
        needed = next((n for n in reversed(ctx.page.components[:ctx.page.components.index(d)]) if n.name == component.needs))
        instance["needs"] = {k: v for k, v in needed.options.items() if components.get(needed.name).option(k).view}
    ctx.data.setdefault("instances", []).append(instance)

    def fallback_image(figure: dict) -> str | None:
        png = cached_figure_png(figure) if figure else None
        if png is None:
            return None
        url = f"images/figure-{hashlib.sha256(png).hexdigest()[:12]}.png"
        ctx.assets.files[url] = png
        return ctx.root + url

    template = ctx.env.get_template(f"components/{d.name}.html")
    # The template sees the whole view: keys starting with "_" are for it alone (a figure it
    # shows as a static picture, say), not sent to the page's scripts.
    return template.render(id=d.id, component=component, options=d.options, controls=controls, view=view,
                           files=instance.get("files", {}),
                           root=ctx.root, fallback_image=fallback_image, steps=components.STEPS,
                           families=components.FAMILIES, method_names=METHOD_NAMES, **extra)


# plotly.js's named colour scales (its src/components/colorscale/scales.js, the same table as the
# Python plotly package's PLOTLY_SCALES, which tests/test_speed_build.py compares). The figures name
# them; the page's canvas renderer (plots.js, via the page data) and the no-script pictures below
# draw them without Plotly.
PLOTLY_SCALES = {
    "Greys": [[0, "rgb(0,0,0)"], [1, "rgb(255,255,255)"]],
    "YlGnBu": [[0, "rgb(8,29,88)"], [0.125, "rgb(37,52,148)"], [0.25, "rgb(34,94,168)"],
        [0.375, "rgb(29,145,192)"], [0.5, "rgb(65,182,196)"], [0.625, "rgb(127,205,187)"],
        [0.75, "rgb(199,233,180)"], [0.875, "rgb(237,248,217)"], [1, "rgb(255,255,217)"]],
    "Greens": [[0, "rgb(0,68,27)"], [0.125, "rgb(0,109,44)"], [0.25, "rgb(35,139,69)"],
        [0.375, "rgb(65,171,93)"], [0.5, "rgb(116,196,118)"], [0.625, "rgb(161,217,155)"],
        [0.75, "rgb(199,233,192)"], [0.875, "rgb(229,245,224)"], [1, "rgb(247,252,245)"]],
    "YlOrRd": [[0, "rgb(128,0,38)"], [0.125, "rgb(189,0,38)"], [0.25, "rgb(227,26,28)"],
        [0.375, "rgb(252,78,42)"], [0.5, "rgb(253,141,60)"], [0.625, "rgb(254,178,76)"],
        [0.75, "rgb(254,217,118)"], [0.875, "rgb(255,237,160)"], [1, "rgb(255,255,204)"]],
    "Bluered": [[0, "rgb(0,0,255)"], [1, "rgb(255,0,0)"]],
    "RdBu": [[0, "rgb(5,10,172)"], [0.35, "rgb(106,137,247)"], [0.5, "rgb(190,190,190)"],
        [0.6, "rgb(220,170,132)"], [0.7, "rgb(230,145,90)"], [1, "rgb(178,10,28)"]],
    "Reds": [[0, "rgb(220,220,220)"], [0.2, "rgb(245,195,157)"], [0.4, "rgb(245,160,105)"],
        [1, "rgb(178,10,28)"]],
    "Blues": [[0, "rgb(5,10,172)"], [0.35, "rgb(40,60,190)"], [0.5, "rgb(70,100,245)"],
        [0.6, "rgb(90,120,245)"], [0.7, "rgb(106,137,247)"], [1, "rgb(220,220,220)"]],
    "Picnic": [[0, "rgb(0,0,255)"], [0.1, "rgb(51,153,255)"], [0.2, "rgb(102,204,255)"],
        [0.3, "rgb(153,204,255)"], [0.4, "rgb(204,204,255)"], [0.5, "rgb(255,255,255)"],
        [0.6, "rgb(255,204,255)"], [0.7, "rgb(255,153,255)"], [0.8, "rgb(255,102,204)"],
        [0.9, "rgb(255,102,102)"], [1, "rgb(255,0,0)"]],
    "Rainbow": [[0, "rgb(150,0,90)"], [0.125, "rgb(0,0,200)"], [0.25, "rgb(0,25,255)"],
        [0.375, "rgb(0,152,255)"], [0.5, "rgb(44,255,150)"], [0.625, "rgb(151,255,0)"],
        [0.75, "rgb(255,234,0)"], [0.875, "rgb(255,111,0)"], [1, "rgb(255,0,0)"]],
    "Portland": [[0, "rgb(12,51,131)"], [0.25, "rgb(10,136,186)"], [0.5, "rgb(242,211,56)"],
        [0.75, "rgb(242,143,56)"], [1, "rgb(217,30,30)"]],
    "Jet": [[0, "rgb(0,0,131)"], [0.125, "rgb(0,60,170)"], [0.375, "rgb(5,255,255)"],
        [0.625, "rgb(255,255,0)"], [0.875, "rgb(250,0,0)"], [1, "rgb(128,0,0)"]],
    "Hot": [[0, "rgb(0,0,0)"], [0.3, "rgb(230,0,0)"], [0.6, "rgb(255,210,0)"], [1, "rgb(255,255,255)"]],
    "Blackbody": [[0, "rgb(0,0,0)"], [0.2, "rgb(230,0,0)"], [0.4, "rgb(230,210,0)"],
        [0.7, "rgb(255,255,255)"], [1, "rgb(160,200,255)"]],
    "Earth": [[0, "rgb(0,0,130)"], [0.1, "rgb(0,180,180)"], [0.2, "rgb(40,210,40)"],
        [0.4, "rgb(230,230,50)"], [0.6, "rgb(120,70,20)"], [1, "rgb(255,255,255)"]],
    "Electric": [[0, "rgb(0,0,0)"], [0.15, "rgb(30,0,100)"], [0.4, "rgb(120,0,100)"], [0.6, "rgb(160,90,0)"],
        [0.8, "rgb(230,200,0)"], [1, "rgb(255,250,220)"]],
    "Viridis": [[0, "#440154"], [0.06274509803921569, "#48186a"], [0.12549019607843137, "#472d7b"],
        [0.18823529411764706, "#424086"], [0.25098039215686274, "#3b528b"], [0.3137254901960784, "#33638d"],
        [0.3764705882352941, "#2c728e"], [0.4392156862745098, "#26828e"], [0.5019607843137255, "#21918c"],
        [0.5647058823529412, "#1fa088"], [0.6274509803921569, "#28ae80"], [0.6901960784313725, "#3fbc73"],
        [0.7529411764705882, "#5ec962"], [0.8156862745098039, "#84d44b"], [0.8784313725490196, "#addc30"],
        [0.9411764705882353, "#d8e219"], [1, "#fde725"]],
    "Cividis": [[0.0, "rgb(0,32,76)"], [0.058824, "rgb(0,42,102)"], [0.117647, "rgb(0,52,110)"],
        [0.176471, "rgb(39,63,108)"], [0.235294, "rgb(60,74,107)"], [0.294118, "rgb(76,85,107)"],
        [0.352941, "rgb(91,95,109)"], [0.411765, "rgb(104,106,112)"], [0.470588, "rgb(117,117,117)"],
        [0.529412, "rgb(131,129,120)"], [0.588235, "rgb(146,140,120)"], [0.647059, "rgb(161,152,118)"],
        [0.705882, "rgb(176,165,114)"], [0.764706, "rgb(192,177,109)"], [0.823529, "rgb(209,191,102)"],
        [0.882353, "rgb(225,204,92)"], [0.941176, "rgb(243,219,79)"], [1.0, "rgb(255,233,69)"]],
}


def scale_stops(name: str | list) -> list[tuple[float, tuple[int, int, int]]] | None:
    """A named (or literal) Plotly colour scale as [(t, (r, g, b))]."""
    stops = PLOTLY_SCALES.get(name) if isinstance(name, str) else name
    if not stops:
        return None
    out = []
    for t, colour in stops:
        if colour.startswith("#"):
            rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        else:
            rgb = tuple(int(float(x)) for x in re.findall(r"[\d.]+", colour)[:3])
        out.append((float(t), rgb))
    return out


def figure_png(figure: dict) -> bytes | None:
    """A heatmap figure as a small PNG, for readers without JavaScript (shown in <noscript>)."""
    from PIL import Image

    trace = figure["data"][0]
    scale = scale_stops(trace.get("colorscale"))
    z = trace.get("z")
    if trace.get("type") != "heatmap" or scale is None or not z:
        return None
    values = [v for row in z for v in row if v is not None]
    lo, hi = trace.get("zmin", min(values)), trace.get("zmax", max(values))
    if trace.get("zmid") is not None and not ("zmin" in trace and "zmax" in trace):
        half = max(trace["zmid"] - lo, hi - trace["zmid"])
        lo, hi = trace["zmid"] - half, trace["zmid"] + half
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


def webp_lossless(png: bytes) -> bytes:
    """The same pixels as a lossless WebP (about a quarter smaller than the PNG; every browser
    the page supports decodes it to exactly these RGB values). Cached by the PNG's hash."""
    from PIL import Image

    hit = _WEBP_MEMO.get(png)
    if hit is None:
        buf = io.BytesIO()
        with Image.open(io.BytesIO(png)) as im:
            im.save(buf, format="WEBP", lossless=True, quality=100, method=6, exact=True)
        hit = _WEBP_MEMO[png] = buf.getvalue()
    return hit


_WEBP_MEMO: dict[bytes, bytes] = {}


def png_bytes(pixels: list[int], size: int) -> bytes:
    """A model input (after resizing) as a PNG, for the first view."""
    from PIL import Image

    im = Image.frombytes("RGB", (size, size), bytes(pixels))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def render_pages(pages: list[Page], assets: Assets, folders: Folders, files: dict[str, str]) -> dict[str, str]:
    import markupsafe
    from pe_engine import components

    env = template_env(folders.templates)
    nav = [{"title": p.meta["title"], "href": p.output_name} for p in pages]
    nav.sort(key=lambda item: item["href"] != "index.html")
    out = {}
    for page in pages:
        ctx = RenderContext(assets, env, page, folders, root="")
        rendered = [render_component(s, ctx) if isinstance(s, Directive) else s for s in page.stash]
        body = rewrite_links(page.body_html, pages, files)
        body = re.sub(r'<a href="#([^"]*&amp;[^"]*)"', r'<a class="try" href="#\1"', body)  # inline actions
        # A heading's permalink stays a link, but not a tab stop: the contents already lead there.
        body = body.replace('<a class="headerlink" ', '<a class="headerlink" tabindex="-1" ')
        # A component placeholder stands alone in its paragraph; math may sit inside text.
        body = re.sub("<p>\ue000(\\d+)\ue001</p>", lambda m: rendered[int(m.group(1))], body)
        body = PLACEHOLDER_RE.sub(lambda m: rendered[int(m.group(1))], body)
        names = sorted({d.name for d in page.components})
        if ctx.data:
            ctx.data["schema"] = components.schema(names)
        # Every module the page's components import, so the browser can fetch them at once.
        modules = module_graph(folders.static, ["js/main.js"] + [f"js/components/{n}.js" for n in names]) if names else []
        out[page.output_name] = env.get_template("article.html").render(
            site=SITE, page=page.meta, body=markupsafe.Markup(body), toc=markupsafe.Markup(page.toc_html), nav=nav,
            index_href="index.html", is_index=page.is_index, assets=assets.urls, csp=CSP, root=ctx.root,
            has_components=bool(page.components), page_data=ctx.data,
            runtime=runtime_data(ctx, assets, folders) if page.components else None,
            modules=[assets.urls["static"] + m for m in modules])
    return out


def runtime_data(ctx: RenderContext, assets: Assets, folders: Folders) -> dict[str, Any]:
    """What start.js (first in <head>) needs to start the worker before the body is parsed: the
    runtime's URLs, the stepper's photograph and default model input (the worker decodes them
    itself), and the size of the download, for the status line when it is held back."""
    pictured = next((i for i in ctx.data.get("instances", []) if i.get("image")), None)
    urls = assets.urls
    return {
        "root": ctx.root, "static": urls["static"], "pyodide_dir": urls["pyodide_dir"], "engine": urls["engine"],
        "engine_hash": urls["engine_hash"], "snapshot": urls.get("snapshot"),
        "photo": {"image": pictured["image"], "source_size": pictured["source_size"], "input": pictured.get("input"),
                  "size": pictured["options"].get("image_size")} if pictured else None,
        "download_mb": runtime_download_mb(assets, folders),
    }


def runtime_download_mb(assets: Assets, folders: Folders) -> int:
    """Megabytes the worker downloads, as a host serving the precompressed siblings sends them."""
    total = 0
    for rel, content in assets.files.items():
        name = rel.rsplit("/", 1)[-1]
        if name in PYODIDE_FILES or name.startswith(("snapshot-", "pe_engine-")):
            data = content if isinstance(content, bytes) else Path(content).read_bytes()
            total += min([len(data)] + [len(c) for c in precompressed(rel, data, folders).values()])
    return max(1, round(total / 1e6))


def rewrite_links(body: str, pages: list[Page], files: dict[str, str]) -> str:
    """Links to other .md pages point at their .html output; images and linked files at
    their hashed copies."""
    names = {p.source.path.name: p.output_name for p in pages}

    def fix(m: re.Match) -> str:
        target = html.unescape(m.group(2))
        _, sep, anchor = target.partition("#")
        file_part = local_part(target)  # a query is dropped: the hashed name is the version
        if file_part in names:
            return f'{m.group(1)}="{html.escape(names[file_part] + sep + anchor)}"'
        if file_part in files:
            return f'{m.group(1)}="{html.escape(files[file_part] + sep + anchor)}"'
        return m.group(0)

    return re.sub(r'\b(href|src)="([^"#:]+(?:#[^"]*)?)"', fix, body)


# --------------------------------------------------------------------------- stage 8: write

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


def check_output_folder(folders: Folders) -> None:
    """The build replaces only a folder it made itself (it carries STAMP) or an empty one,
    and never writes into the sources or the repository itself."""
    out = folders.out.resolve()
    for source in folders.sources:
        source = source.resolve()
        if out == source or out.is_relative_to(source) and source != ROOT or source.is_relative_to(out):
            raise BuildFailed(message=f"refusing to write the site into {display_path(folders.out)}: it is or holds "
                                      f"{display_path(source)}/, which the build reads. Choose another --out.")
    for reserved in (ROOT / ".git", ROOT / "node_modules", ROOT / ".venv", folders.cache):
        if out == reserved.resolve() or out.is_relative_to(reserved.resolve()):
            raise BuildFailed(message=f"refusing to write the site into {display_path(folders.out)}. Choose another --out.")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BuildFailed(message=f"{display_path(folders.out)} exists and is not a folder; the build leaves it alone.")
    if out.is_dir() and not (out / STAMP).is_file() and any(out.iterdir()):
        raise BuildFailed(message=f"{display_path(folders.out)} is not empty and was not made by this build "
                                  f"(it has no {STAMP} file); the build leaves it alone. Choose an empty or new folder.")


def copy_file(src: Path, dst: Path) -> None:
    """Its own copy, never a hard link: an in-place edit of the output must not edit a source."""
    shutil.copyfile(src, dst)


# Precompressed siblings (name.gz and name.br beside name) of the text and binary files that
# compress, for hosts that serve them as they are (nginx gzip_static / brotli_static, see
# hosting_files). A sibling is written only where it saves at least PRECOMPRESS_MIN_SAVING: the
# zips (python_stdlib.zip, the engine) and the snapshot (served as its .gz file, inflated in
# the worker on every host) are compressed already. Compressed once per content, in .cache/.
PRECOMPRESS_SUFFIXES = (".html", ".css", ".js", ".mjs", ".json", ".wasm", ".svg", ".txt", ".xml", ".map", ".zip", ".bin")
PRECOMPRESS_MIN_BYTES = 1024
PRECOMPRESS_MIN_SAVING = 0.05


_COMPRESSED: dict[tuple[str, str, int], bytes] = {}  # (sha256, kind, quality) -> bytes, for serve's rebuilds


def compress_cached(data: bytes, kind: str, folders: Folders, quality: int = 9) -> bytes:
    """gzip -9, or brotli at ``quality``, of data; kept in .cache/compressed by content."""
    import gzip

    digest = hashlib.sha256(data).hexdigest()
    key = (digest, kind, quality if kind == "br" else 9)
    if key in _COMPRESSED:
        return _COMPRESSED[key]
    path = folders.cache / "compressed" / f"{digest}.{kind}{key[2]}"
    if path.is_file():
        out = path.read_bytes()
    else:
        if kind == "gz":
            out = gzip.compress(data, compresslevel=9, mtime=0)
        else:
            import brotli

            out = brotli.compress(data, quality=quality, lgwin=24)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(out)
        os.replace(tmp, path)
    _COMPRESSED[key] = out
    return out


def brotli_quality(rel: str, size: int) -> int:
    """11 (the smallest) for the vendored runtime files, which never change and so are
    compressed once per machine, except above 4 MiB (the wasm: 11 takes most of a minute);
    9 for the site's own files, which change with every edit (11 takes 0.5 s for the article,
    9 takes 35 ms for 17 % more bytes) and for the live preview, which writes the same output."""
    return 11 if rel.startswith("vendor/") and size <= 4 << 20 else 9


def precompressed(rel: str, data: bytes, folders: Folders) -> dict[str, bytes]:
    """The siblings worth writing for the output file ``rel``: {".gz": ..., ".br": ...}."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith("_") or not name.endswith(PRECOMPRESS_SUFFIXES) or len(data) < PRECOMPRESS_MIN_BYTES:
        return {}
    out = {}
    for kind in ("gz", "br"):
        packed = compress_cached(data, kind, folders, brotli_quality(rel, len(data)))
        if len(packed) <= len(data) * (1 - PRECOMPRESS_MIN_SAVING):
            out[f".{kind}"] = packed
        elif kind == "gz" and len(packed) > len(data) * 0.98:
            break  # compressed already (a zip of deflated files): brotli cannot do better
    return out


# Names that carry a content hash or a version (assets/, vendor/, images/) never change.
IMMUTABLE_DIRS = ("assets", "vendor", "images")


def hosting_files() -> dict[str, str]:
    """Configuration for real hosts, written beside the site: _headers (Netlify, Cloudflare
    Pages) and _nginx.conf, the nginx snippet the README shows and the end-to-end tests serve
    the site with (tests/e2e/nginx.py includes this very file)."""
    immutable = "public, max-age=31536000, immutable"
    headers = ["# Written by build.py: response headers for hosts that read _headers (Netlify, Cloudflare Pages).",
               "# They compress on their own; nginx users: see _nginx.conf.",
               "/*", f"  Content-Security-Policy: {CSP}", "  X-Content-Type-Options: nosniff"]
    for folder in IMMUTABLE_DIRS:
        headers += [f"/{folder}/*", f"  Cache-Control: {immutable}"]
    nginx = NGINX_SNIPPET.format(csp=CSP, dirs="|".join(IMMUTABLE_DIRS), immutable=immutable)
    return {"_headers": "\n".join(headers) + "\n", "_nginx.conf": nginx}


NGINX_SNIPPET = """\
# Serving dist/ with nginx: include this file in the server {{ }} block that serves the site
# (root, or alias for a subpath). Written by build.py as dist/_nginx.conf.
include mime.types;
types {{ text/javascript js mjs; application/wasm wasm; application/json json; }}
default_type application/octet-stream;
charset utf-8;
charset_types text/css text/javascript application/json text/plain;
# The build's precompressed siblings (main.js.br, main.js.gz beside main.js).
gzip_static on;
# Needs ngx_brotli's static module (Debian: libnginx-mod-http-brotli-static); without it, drop this line.
brotli_static on;
gzip_vary on;
# Names with a content hash or a version never change; everything else is revalidated.
set $pe_cache "no-cache";
if ($uri ~ "/({dirs})/") {{ set $pe_cache "{immutable}"; }}
add_header Cache-Control $pe_cache always;
add_header Content-Security-Policy "{csp}" always;
add_header X-Content-Type-Options nosniff always;
"""


def write_site(html_pages: dict[str, str], assets: Assets, folders: Folders) -> None:
    """Write everything into a staging folder next to the output, then swap it in."""
    check_output_folder(folders)
    dist = folders.out.resolve()
    dist.parent.mkdir(parents=True, exist_ok=True)
    staging = dist.with_name(f"{dist.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # First, so that a staging folder left by a killed build is known as the build's own.
        (staging / STAMP).write_text("This folder was written by build.py, which replaces it on the next build.\n")
        for rel, content in assets.files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                copy_file(content, target)
        for name, text in html_pages.items():
            (staging / name).write_text(text, encoding="utf-8")
        for name, text in hosting_files().items():
            (staging / name).write_text(text, encoding="utf-8")
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            rel = path.relative_to(staging).as_posix()
            for suffix, packed in precompressed(rel, path.read_bytes(), folders).items():
                path.with_name(path.name + suffix).write_bytes(packed)
        (staging / ".nojekyll").write_text("")
        swap_directories(staging, dist)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def clean_stale_staging(dist: Path) -> None:
    """Remove staging folders left by builds that were killed."""
    for kind in ("staging", "old"):
        for stale in dist.parent.glob(f"{dist.name}.{kind}-*"):
            pid = stale.name.rsplit("-", 1)[-1]
            # Only what a build made (it carries STAMP) and whose build is gone.
            if (pid.isdigit() and not Path(f"/proc/{pid}").exists() and stale.is_dir()
                    and not stale.is_symlink() and (stale / STAMP).is_file()):
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def build_lock(folders: Folders):
    """One build at a time: a second one waits for the first to finish."""
    folders.cache.mkdir(parents=True, exist_ok=True)
    with open(folders.cache / "build.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("another build is running; waiting for it to finish…", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------- the pipeline

def read_and_check(folders: Folders, parse: Callable | None = None) -> list[Page]:
    """The stages ``check`` runs (read, parse, check_site, compute_views); raises BuildFailed."""
    sources, errors = read_sources(folders)
    compute_facts(sources, folders)
    pages, parse_errors = parse_pages(sources, folders, parse, frozenset(e.path.name for e in errors))
    errors += parse_errors
    if not errors:
        errors += compute_views(pages, folders)
    if errors:
        raise BuildFailed(capped(sorted(errors, key=lambda e: (str(e.path), e.line))))
    return pages


def capped(errors: list[ContentError], per_file: int = 25) -> list[ContentError]:
    """At most ``per_file`` problems of each file, and a line saying how many more there are."""
    out, counts = [], {}
    for e in errors:
        counts[e.path] = counts.get(e.path, 0) + 1
        if counts[e.path] <= per_file:
            out.append(e)
    for path, n in counts.items():
        if n > per_file:
            last = max(e.line for e in errors if e.path == path)
            out.append(ContentError(path, last, f"… and {n - per_file} more problems in this file"))
    return sorted(out, key=lambda e: (str(e.path), e.line))


class Builder:
    """Runs the pipeline, remembering the slow parts between runs (used by ``serve``).

    A prose edit re-parses and re-renders the pages and reuses the bundled assets and the
    engine's pre-computed views; a change under site_templates/static or pyodide_src/
    re-bundles what depends on it.
    """

    def __init__(self, folders: Folders, snapshot: bool = True):
        self.folders = folders
        self.snapshot = snapshot
        self.assets: Assets | None = None
        self._parsed: dict[tuple[Path, str], tuple[Page, list[ContentError]]] = {}

    def parse(self, source: Source) -> tuple[Page, list[ContentError]]:
        """parse_page, reusing the parse of every file whose text is unchanged since the last run."""
        key = (source.path, source.text)
        if key not in self._parsed:
            self._parsed[key] = parse_page(source)
        return self._parsed[key]

    def rebuild(self, changed: set[Path] | None = None) -> dict[str, float]:
        timings: dict[str, float] = {}
        f = self.folders

        def stage(name: str, fn: Callable, *args, **kwargs):
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            timings[name] = time.perf_counter() - t0
            return result

        engine_changed = changed is None or any(f.engine in p.parents for p in changed)
        static_changed = changed is None or any(f.static in p.parents for p in changed)
        if changed is None or any(f.content in p.parents and p.suffix != ".md" for p in changed):
            self._parsed.clear()  # a page's checks look at its images
        if engine_changed:
            self._parsed.clear()  # defaults, bounds and facts may have changed
            _MEMO.clear()
            _PNG_MEMO.clear()
            for name in [m for m in sys.modules if m == "pe_engine" or m.startswith("pe_engine.")]:
                del sys.modules[name]  # import the edited engine afresh
        with build_lock(f):
            clean_stale_staging(f.out.resolve())
            pages = stage("read, parse, check, views", read_and_check, f, self.parse)
            self._parsed = {(p.source.path, p.source.text): self._parsed[(p.source.path, p.source.text)] for p in pages}
            if self.assets is None or engine_changed or static_changed:
                self.assets = stage("assets", bundle_assets, f, snapshot=self.snapshot)
            assets = dataclasses.replace(self.assets, files=dict(self.assets.files))
            files = stage("files", collect_files, pages, assets, f)
            html_pages = stage("render", render_pages, pages, assets, f, files)
            stage("write", write_site, html_pages, assets, f)
        return timings


def build(folders: Folders = Folders(), snapshot: bool = True) -> dict[str, float]:
    """One full build; the output folder is only touched by the final swap."""
    return Builder(folders, snapshot).rebuild()


def check(folders: Folders = Folders()) -> list[ContentError]:
    """Every problem in content/, without writing anything."""
    try:
        read_and_check(folders)
    except BuildFailed as exc:
        return exc.errors or [ContentError(folders.content, 1, exc.message)]
    return []


# --------------------------------------------------------------------------- live preview (serve)

class LiveReload:
    """Server-sent events to every open page: 'reload' after a good build, 'failure' with
    the ``path:line: message`` report after a bad one (the last good build stays served).
    Every event carries the id of the build served now; a page that missed one reloads."""

    def __init__(self):
        import queue
        import threading

        self._queue_type = queue.Queue
        self.lock = threading.Lock()
        self.clients: list = []
        self.error: str | None = None
        self.build_id = "0"

    def subscribe(self):
        """A queue that already holds what a new page must know: the current build, and the
        failure it should show."""
        q = self._queue_type()
        with self.lock:
            self.clients.append(q)
            q.put(("hello", self.build_id))
            if self.error:
                q.put(("failure", self.error))
        return q

    def unsubscribe(self, q) -> None:
        with self.lock:
            if q in self.clients:
                self.clients.remove(q)

    def publish(self, event: str, data: str = "") -> None:
        with self.lock:
            self.error = data if event == "failure" else None
            if event == "reload":
                self.build_id = str(int(self.build_id) + 1)
            for q in self.clients:
                q.put((event, {"build": self.build_id, "data": data}))


LIVERELOAD_URL = "/__live/livereload.js"


def make_handler(folders: Folders, live: LiveReload):
    import http.server
    import queue

    preview_script = folders.templates / "preview" / "livereload.js"

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folders.out), **kwargs)

        def log_message(self, *args):  # keep the author's terminal for build messages
            pass

        def end_headers(self):
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def send_bytes(self, body: bytes, content_type: str):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = self.path.split("?")[0].split("#")[0]
            if path == "/__live/events":
                return self.events()
            if path == LIVERELOAD_URL:
                return self.send_bytes(preview_script.read_bytes(), "text/javascript")
            local = Path(self.translate_path(path))
            if local.is_dir():
                local = local / "index.html"
            if local.suffix == ".html" and local.is_file():
                # The reload script goes into the page as it is served, never into the output.
                with live.lock:
                    build_id = live.build_id
                tag = f'<script type="module" src="{LIVERELOAD_URL}" data-build="{build_id}"></script>'
                text = local.read_text(encoding="utf-8").replace("</head>", tag + "\n</head>", 1)
                return self.send_bytes(text.encode(), "text/html; charset=utf-8")
            return super().do_GET()

        def events(self):
            q = live.subscribe()  # before answering: nothing published from now on is missed
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                while True:
                    try:
                        event, data = q.get(timeout=10)
                    except queue.Empty:
                        self.wfile.write(b": keep-alive\n\n")
                    else:
                        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                live.unsubscribe(q)

    return Handler


def serve(folders: Folders, port: int, snapshot: bool = True) -> int:
    """Build, serve the output on 127.0.0.1, rebuild on every save and reload the open pages."""
    import http.server
    import threading

    import watchfiles

    live = LiveReload()
    builder = Builder(folders, snapshot=snapshot)
    try:
        builder.rebuild()
        print(f"built {display_path(folders.out)}/")
    except BuildFailed as exc:
        live.publish("failure", exc.report())
        print(exc.report(), file=sys.stderr)
        if not folders.out.exists():
            print("nothing to serve until the content builds", file=sys.stderr)
    http.server.ThreadingHTTPServer.daemon_threads = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(folders, live))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C to stop); watching content/, "
          "site_templates/ and pyodide_src/", flush=True)
    watched = [p for p in (folders.content, folders.templates, folders.engine) if p.exists()]
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
            prose_only = live.error is None and all(p.suffix == ".md" and folders.content in p.parents for p in changed)
            live.publish("reload", "content" if prose_only else "full")
            names = ", ".join(sorted(display_path(p) for p in changed))
            print(f"rebuilt in {(time.perf_counter() - t0) * 1000:.0f} ms after {names}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


# --------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--content", default=str(Folders.content), help="folder of markdown pages (default: content/)")
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
    folders = Folders(content=Path(args.content).absolute(),
                      out=Path(args.out).absolute() if getattr(args, "out", None) else Folders.out)
    try:
        if args.command == "check":
            errors = check(folders)
            for e in errors:
                print(e)
            print(f"{len(errors)} problem(s) found" if errors else "content OK", file=sys.stderr)
            return 1 if errors else 0
        if args.command == "serve":
            check_output_folder(folders)
            return serve(folders, args.port, snapshot=not args.no_snapshot)
        t0 = time.perf_counter()
        timings = build(folders, snapshot=not args.no_snapshot)
        detail = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
        print(f"built {display_path(folders.out)}/ in {time.perf_counter() - t0:.2f} s ({detail})")
        return 0
    except BuildFailed as exc:
        print(exc.report(), file=sys.stderr)
        print(f"build failed; {display_path(folders.out)}/ was left as it was", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not the content's fault: say so without a traceback
        if os.environ.get("PE_DEBUG"):
            raise
        print(f"error: build.py failed unexpectedly ({type(exc).__name__}: {clip(str(exc), 300)}). "
              f"{display_path(folders.out)}/ was left as it was. This is a bug in build.py: please report "
              "it with the content that caused it (PE_DEBUG=1 shows the traceback).", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
