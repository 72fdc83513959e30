"""Benchmark at ViT-B/16 sizes: engine on CPython vs a numpy reference, and
the same engine inside Pyodide under Node (tests/bench/engine_pyodide.mjs runs this
module there too).

    .venv/bin/python tests/bench/bench_engine.py [--repeats N]

Imports nothing outside the standard library at module level (it also runs in Pyodide);
numpy (via tests/references.py) is only imported inside ``reference_calls``.
"""

import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.isdir(os.path.join(ROOT, "pyodide_src")):
    sys.path.insert(0, os.path.join(ROOT, "pyodide_src"))

from pe_engine.encodings import learned, learned_2d, relative_position_bias, sincos_2d, sinusoidal_1d  # noqa: E402
from pe_engine.projection import init_cls_token, init_projection  # noqa: E402
from pe_engine.resample import resample  # noqa: E402
from pe_engine.similarity import cosine_similarity_map  # noqa: E402

__all__ = ["engine_calls", "time_calls", "fingerprints", "main"]

GRID, DIM, NEW_GRID = 14, 768, 24


def engine_calls():
    """name -> zero-argument callable, ViT-B/16 sizes (197 x 768)."""
    pe = sincos_2d(GRID, GRID, DIM, cls_token=True)
    table = learned(GRID * GRID + 1, DIM, seed=0)
    return {
        "sinusoidal_1d": lambda: sinusoidal_1d(GRID * GRID + 1, DIM),
        "sincos_2d": lambda: sincos_2d(GRID, GRID, DIM, cls_token=True),
        "learned": lambda: learned(GRID * GRID + 1, DIM, seed=0),
        "cosine_similarity_map": lambda: cosine_similarity_map(pe, GRID, GRID, 0),
        "resample_timm_14_24": lambda: resample(table, (NEW_GRID, NEW_GRID), (GRID, GRID), 1, "timm"),
    }


def _median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_calls(repeats=7):
    """name -> median milliseconds of the engine calls (shared by both runtimes)."""
    return {name: _median_ms(fn, repeats) for name, fn in engine_calls().items()}


def reference_calls():
    """The numpy/PIL references for the same operations, or None without numpy."""
    try:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import references as ref  # noqa: F401  (numpy lives only in tests)
        import numpy as np
    except ImportError:
        return None
    pe = np.asarray(ref.sincos_2d(GRID, GRID, DIM, cls_token=True))
    table = np.asarray(learned(GRID * GRID + 1, DIM, seed=0))
    return {
        "sinusoidal_1d": lambda: ref.sinusoidal_1d(GRID * GRID + 1, DIM),
        "sincos_2d": lambda: ref.sincos_2d(GRID, GRID, DIM, cls_token=True),
        "learned": lambda: ref.learned(GRID * GRID + 1, DIM, seed=0),
        "cosine_similarity_map": lambda: ref.cosine_similarity_map(pe, GRID, GRID, 0),
        "resample_timm_14_24": lambda: ref.resample(table, (NEW_GRID, NEW_GRID), (GRID, GRID), 1, "timm"),
    }


def _digest(rows):
    flat = [x for r in rows for x in r]
    return hashlib.sha256(struct.pack("<%dd" % len(flat), *flat)).hexdigest()


def fingerprints():
    """SHA-256 of the seeded outputs; equal across runtimes iff bit-identical."""
    w, b = init_projection(48, 16, seed=3)
    return {
        "learned": _digest(learned(197, 768, seed=0)),
        "learned_2d": _digest(learned_2d(14, 14, 64, seed=5, cls_token=True)),
        "init_projection": _digest(w + [b]),
        "init_cls_token": _digest([init_cls_token(768, seed=1)]),
        "relative_position_bias": _digest(relative_position_bias(7, 7, heads=4, seed=2).table),
        "resample_jax": _digest(resample(learned(50, 32, seed=9), (9, 9), None, 1, "jax")),
    }


def pyodide_results(repeats):
    """Run tests/bench/engine_pyodide.mjs under node; dict or None with a note."""
    script = os.path.join(ROOT, "tests", "bench", "engine_pyodide.mjs")
    node = shutil.which("node")
    if node is None or not os.path.exists(script):
        return None, "node or the Pyodide bench script is missing"
    try:
        proc = subprocess.run([node, script, str(repeats)], capture_output=True, text=True,
                              timeout=600, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, "pyodide run failed: %s" % exc
    if proc.returncode != 0:
        return None, "pyodide run failed: %s" % proc.stderr.strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    repeats = int(args[args.index("--repeats") + 1]) if "--repeats" in args else 7
    engine = time_calls(repeats)
    refs = reference_calls()
    ref_ms = {k: _median_ms(f, repeats) for k, f in refs.items()} if refs else {}
    pyo, note = pyodide_results(repeats)
    pyo_ms = pyo["times"] if pyo else {}
    header = ("operation (ViT-B/16)", "engine CPython ms", "numpy ref ms", "engine/numpy",
              "Pyodide ms", "Pyodide/CPython")
    rows = []
    for name, ms in engine.items():
        r = ref_ms.get(name)
        p = pyo_ms.get(name)
        rows.append((name, "%.1f" % ms, "%.2f" % r if r else "n/a",
                     "%.1fx" % (ms / r) if r else "n/a",
                     "%.1f" % p if p else "n/a", "%.2f" % (p / ms) if p else "n/a"))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print("\nPython %s; median of %d runs after one warm-up." % (sys.version.split()[0], repeats))
    if pyo:
        same = pyo["fingerprints"] == fingerprints()
        print("Pyodide: Python %s; seeded outputs bit-identical to CPython: %s"
              % (pyo["python"], "yes" if same else "NO"))
    else:
        print("Pyodide column skipped: %s" % note)


if __name__ == "__main__":
    main()
