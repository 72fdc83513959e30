"""Build robustness (issue 8): a build killed midway leaves the previous output as it was,
and two builds started at once leave one complete, consistent site.

Each test builds a copy of content/ into a temporary --out folder, never dist/.
"""
import hashlib
import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build.py"


def build_cmd(content: Path, out: Path) -> list[str]:
    return [sys.executable, str(BUILD), "build", "--content", str(content), "--out", str(out)]


# The same build with every file write slowed down, so a kill lands inside the write stage.
SLOW_WRITE = textwrap.dedent("""
    import os, shutil, sys, time
    sys.path.insert(0, {root!r})
    import build
    link, copy = os.link, shutil.copyfile
    def slow(fn):
        def inner(*a, **k):
            time.sleep(0.1)
            return fn(*a, **k)
        return inner
    os.link, shutil.copyfile = slow(link), slow(copy)
    sys.exit(build.main(["build", "--content", {content!r}, "--out", {out!r}]))
""")


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its SHA-256."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name + "."))


def asset_paths(value, key=None):
    """Output paths in the page data (a directive's own "options" are its source text, not URLs)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "options":
                yield from asset_paths(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from asset_paths(v, key)
    elif isinstance(value, str) and re.fullmatch(r"(assets|vendor|images)/\S+\.[a-z0-9]+", value):
        yield value


def assert_complete_site(out: Path) -> None:
    """index.html and about.html exist and every local file they reference is there."""
    for name in ("index.html", "about.html"):
        html = (out / name).read_text(encoding="utf-8")
        assert html.rstrip().endswith("</html>"), f"{name} is cut short"
        refs = set(re.findall(r'(?:src|href)="([^"#:?]+)"', html))
        data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
        if data:
            refs |= set(asset_paths(json.loads(data.group(1))))
        missing = [r for r in refs if not (out / r).is_file()]
        assert not missing, f"{name} references missing files: {missing}"
    assert any(out.glob("assets/pe_engine-*.zip"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of content/, built once into out/ (the "previous output")."""
    tmp = tmp_path_factory.mktemp("robust")
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content)
    out = tmp / "out"
    for _ in range(2):  # the second one, with warm caches, sets the pace for the kills
        t0 = time.monotonic()
        proc = subprocess.run(build_cmd(content, out), cwd=ROOT, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - t0
        assert proc.returncode == 0, proc.stderr
    assert_complete_site(out)
    return content, out, seconds


def edit_content(content: Path, marker: str) -> None:
    page = content / "positional-embeddings.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\n\nEdited for a robustness test: {marker}.\n",
                    encoding="utf-8")


@pytest.fixture
def edited(site):
    """The content, restored after the test (which edits it so a finished build would differ)."""
    content, out, seconds = site
    page = content / "positional-embeddings.md"
    original = page.read_bytes()
    yield content, out, seconds
    page.write_bytes(original)


def kill_after(cmd, seconds: float, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()
    return proc


def test_killed_build_leaves_previous_output_intact(edited):
    content, out, seconds = edited
    killed = 0
    # Kill builds at several points of the pipeline (read, parse, assets, render, write).
    for i, fraction in enumerate((0.1, 0.25, 0.4, 0.55, 0.7, 0.85)):
        before = tree(out)
        edit_content(content, f"killed build {i}")  # a finished build would change index.html
        proc = kill_after(build_cmd(content, out), seconds * fraction)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            if tree(out) != before:
                # Killed after its atomic swap (while cleaning up or exiting): then the output
                # must be the complete new site, never a mixture.
                assert_complete_site(out)
                assert f"killed build {i}" in (out / "index.html").read_text(encoding="utf-8"), \
                    f"output changed by a build killed after {seconds * fraction:.2f} s"
        else:
            assert proc.returncode == 0  # it finished first: then it is the new previous output
            assert_complete_site(out)
    assert killed >= 4, f"only {killed} of the builds were still running when killed"
    assert_complete_site(out)


def test_build_killed_while_writing_leaves_previous_output_intact(edited):
    content, out, _ = edited
    before = tree(out)
    edit_content(content, "killed build")
    script = SLOW_WRITE.format(root=str(ROOT), content=str(content), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = out.with_name(f"{out.name}.staging-{proc.pid}")
    deadline = time.monotonic() + 120
    while not (staging.is_dir() and sum(1 for p in staging.rglob("*") if p.is_file()) >= 5):
        assert proc.poll() is None, "the build finished before it could be killed while writing"
        assert time.monotonic() < deadline, "the build never reached its write stage"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert tree(out) == before, "a build killed while writing changed the previous output"
    assert staging.is_dir()  # what the killed build left behind…
    proc = subprocess.run(build_cmd(content, out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert not staging.exists()  # …is cleaned up by the next build
    assert leftovers(out) == []
    assert_complete_site(out)
    assert "Edited for a robustness test: killed build." in (out / "index.html").read_text(encoding="utf-8")


def test_two_builds_at_once(site):
    content, out, _ = site
    before = tree(out)
    page = content / "positional-embeddings.md"
    original = page.read_bytes()
    try:
        edit_content(content, "two builds")
        procs = [subprocess.Popen(build_cmd(content, out), cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(p.wait(600), *p.communicate()) for p in procs]
        codes = [r[0] for r in results]
        # Both succeed (the second waits for the first), or the second fails cleanly.
        assert codes[0] == 0 or codes[1] == 0, results
        for code, stdout, stderr in results:
            assert code == 0 or ("build failed" in stderr and "Traceback" not in stderr), (code, stderr)
        after = tree(out)
        assert leftovers(out) == [], leftovers(out)
        assert_complete_site(out)
        assert "Edited for a robustness test: two builds." in (out / "index.html").read_text(encoding="utf-8")
        # The same site a single build makes: build again and nothing changes.
        proc = subprocess.run(build_cmd(content, out), cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert tree(out) == after
        # Only the article (and its precompressed siblings) changed against the first build.
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert changed == ["index.html", "index.html.br", "index.html.gz"], changed
    finally:
        page.write_bytes(original)
