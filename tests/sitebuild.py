"""Helpers for the build and check tests: run build.py in a subprocess on a copy of content/.

build.py keeps its folders in module globals, so every run is its own process.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# SITE_BUILD_PY: run the tests against another copy of build.py (kept next to it), e.g. a mutant.
BUILD = Path(os.environ.get("SITE_BUILD_PY", ROOT / "build.py")).resolve()
PYTHON = ROOT / ".venv" / "bin" / "python"
if not PYTHON.exists():
    PYTHON = Path(sys.executable)
ERROR_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?P<message>.+)$")


def copy_content(tmp: Path) -> Path:
    """A private copy of content/ under tmp; returns the copy's folder."""
    dest = tmp / "content"
    shutil.copytree(ROOT / "content", dest)
    return dest


def command(*args: str | Path, content: Path, out: Path | None = None) -> list[str]:
    cmd = [str(PYTHON), str(BUILD), *map(str, args), "--content", str(content)]
    if args and args[0] != "check":
        cmd += ["--no-snapshot"]
        if out is not None:
            cmd += ["--out", str(out)]
    return cmd


def run(*args: str | Path, content: Path, out: Path | None = None, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args, content=content, out=out), capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


def check_and_build(content: Path, out: Path, cwd: Path | None = None):
    """Run `check` and a failing-or-not `build` side by side (they are independent processes)."""
    procs = [subprocess.Popen(command(*args, content=content, out=out), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=cwd or ROOT)
             for args in (("check",), ("build",))]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return results


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    """The `path:line: message` lines a run printed (stdout for check, stderr for build)."""
    text = proc.stdout + "\n" + proc.stderr
    return [line for line in text.splitlines() if ERROR_LINE.match(line)]


def tree_hash(folder: Path) -> dict[str, str]:
    """sha256 of every file under folder, by relative path (symlinks and empty dirs included)."""
    result = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            result[rel] = "link:" + str(path.readlink())
        elif path.is_dir():
            result[rel] = "dir"
        else:
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def front(title: str = "A page", description: str = "A test page.", **extra: str) -> str:
    lines = ["---", f"title: {title}", f"description: {description}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return "\n".join(lines + ["---", ""])


# Many runs in one process: build.main() sets its folders from its arguments on every call,
# so one interpreter can run a whole table of cases (imports and startup paid once).
_BATCH_DRIVER = r"""
import contextlib, io, json, os, sys, traceback
from pathlib import Path
sys.argv = ["build.py"]
import importlib.util
spec = importlib.util.spec_from_file_location("build", os.environ["BUILD_PY"])
build = importlib.util.module_from_spec(spec)
sys.modules["build"] = build
spec.loader.exec_module(build)
jobs, watch = json.load(sys.stdin)

def signature(folder):
    return sorted((str(p), p.lstat().st_size, p.lstat().st_mtime_ns, p.lstat().st_ino)
                  for p in [Path(folder), *Path(folder).rglob("*")]) if Path(folder).exists() else None

results = []
for argv in jobs:
    out, err = io.StringIO(), io.StringIO()
    rc, crash = None, ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = build.main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException:
            crash = traceback.format_exc()
    results.append({"argv": argv, "rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue() + crash,
                    "watched": signature(watch) if watch else None})
json.dump(results, sys.stdout)
"""


def batch(jobs: list[list[str]], watch: Path | None = None, timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """Run build.main(argv) for every argv in one fresh subprocess; each result also carries
    ``watched``: a (path, size, mtime, inode) listing of ``watch`` taken right after the run."""
    import json

    proc = subprocess.run([str(PYTHON), "-c", _BATCH_DRIVER], input=json.dumps([jobs, str(watch) if watch else None]),
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "BUILD_PY": str(BUILD)})
    assert proc.returncode == 0, f"batch driver failed:\n{proc.stderr}"
    results = []
    for r in json.loads(proc.stdout):
        cp = subprocess.CompletedProcess(r["argv"], r["rc"], r["stdout"], r["stderr"])
        cp.watched = r["watched"]
        results.append(cp)
    return results


class LiveServer:
    """`build.py serve` on a free port, for a content folder, writing to ``out``.

    Its output goes to ``log``; ``stop()`` ends exactly this process (and is safe to call twice).
    """

    def __init__(self, content: Path, out: Path, port: int, log: Path, timeout: float = 60):
        import time
        import urllib.request

        self.url = f"http://127.0.0.1:{port}/"
        self.log_path = log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(
            [str(PYTHON), "-u", str(BUILD), "serve", "--port", str(port), "--content", str(content),
             "--out", str(out), "--no-snapshot"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "about.html", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not answer within {timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def get(self, path: str) -> tuple[int, str]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=5) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


@contextlib.contextmanager
def live_connection(page, timeout: float = 15):
    """Around whatever loads or reloads the page: returns once the (new) page's EventSource
    to /__live/events has its response headers. The server subscribes a page before it
    answers, so from then on no event can be missed."""
    with page.expect_response(lambda r: "/__live/events" in r.url, timeout=timeout * 1000):
        yield
