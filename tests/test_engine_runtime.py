"""The engine must stay standard-library only (it runs in Pyodide) and give
bit-identical seeded numbers in CPython and in Pyodide."""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "pyodide_src" / "pe_engine"


sys.path.insert(0, str(ROOT / "tests" / "bench"))


def _imports(tree):
    """(enclosing function name or None, imported module) for every import."""
    def walk(node, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(child, child.name)
            elif isinstance(child, ast.Import):
                for a in child.names:
                    yield func, a.name
            elif isinstance(child, ast.ImportFrom):
                if not child.level:  # relative imports stay inside the package
                    yield func, child.module
            else:
                yield from walk(child, func)
    yield from walk(tree, None)


def test_engine_modules_import_only_stdlib():
    allowed = set(sys.stdlib_module_names)
    for path in sorted(PKG.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for func, name in _imports(tree):
            top = name.split(".")[0]
            assert top in allowed, "%s imports %s" % (path.name, name)


def test_import_in_isolated_interpreter_loads_no_third_party_module():
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import pe_engine, pe_engine.components, pe_engine.worker_api\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names"
        " and m.split('.')[0] not in ('pe_engine', '__main__'))\n"
        "print(bad)\n" % str(ROOT / "pyodide_src")
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"


def test_seeded_outputs_are_deterministic():
    from bench_engine import fingerprints
    assert fingerprints() == fingerprints()


@pytest.mark.skipif(shutil.which("node") is None
                    or not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists(),
                    reason="node or the pyodide npm package is missing")
def test_pyodide_gives_bit_identical_seeded_outputs():
    from bench_engine import fingerprints
    proc = subprocess.run(["node", str(ROOT / "tests" / "bench" / "engine_pyodide.mjs"), "1",
                           "--fingerprints-only"], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["python"].startswith("3.14")
    assert result["fingerprints"] == fingerprints()
