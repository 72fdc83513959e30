"""Digit-ViT inference benchmark: pe_engine.vit under CPython and inside
Pyodide (Node), and the numpy forward for comparison.  Prints a markdown
table of medians (after one warm-up call).

    .venv/bin/python tests/bench/bench_vit.py [--repeats 7] [--no-pyodide]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "pyodide_src"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "vit"))

from bench_vit_calls import _median_ms, run  # noqa: E402

TARGET_MS = 50.0
WEIGHTS = ROOT / "content" / "models" / "vit_digits.safetensors"


def numpy_times(data, repeats):
    import numpy as np
    import numpy_vit as V
    import safetensors_np as S
    from pe_engine import sincos_2d
    tensors, meta = S.loads(data)
    models = json.loads(meta["models"])
    imgs = tensors["test.images"] / 16.0
    out = {}
    for name, cfg in models.items():
        p = {k[len(name) + 1:]: v.astype(np.float64) for k, v in tensors.items()
             if k.startswith(name + ".")}
        pos = np.array(sincos_2d(8, 8, cfg["dim"], cls_token=True)) if cfg["pe"] == "sincos" else None
        one = V.patchify(imgs[:1], cfg["patch"])
        allp = V.patchify(imgs, cfg["patch"])
        out["forward 1 image, %s" % name] = _median_ms(lambda: V.forward(p, one, cfg, pos), repeats)
        out["accuracy, %d test images, %s" % (len(imgs), name)] = _median_ms(
            lambda: V.forward(p, allp, cfg, pos).argmax(1), repeats)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-pyodide", action="store_true")
    args = ap.parse_args()
    data = WEIGHTS.read_bytes()
    cpy = run(data, args.repeats)
    pyo = None
    if not args.no_pyodide and shutil.which("node"):
        proc = subprocess.run(["node", str(HERE / "vit_pyodide.mjs"), str(args.repeats)],
                              capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
        else:
            pyo = json.loads(proc.stdout.strip().splitlines()[-1])
    try:
        nump = numpy_times(data, args.repeats)
    except ImportError:
        nump = {}
    print("digit ViT (%s, %d bytes): medians of %d runs after a warm-up, ms; Python %s%s"
          % (WEIGHTS.name, len(data), args.repeats, sys.version.split()[0],
             ", Pyodide Python %s" % pyo["python"] if pyo else ""))
    print()
    print("| call | CPython engine | Pyodide engine | Pyodide / CPython | numpy |")
    print("|---|---:|---:|---:|---:|")
    for name, ms in cpy["times"].items():
        p = pyo["times"].get(name) if pyo else None
        n = nump.get(name)
        print("| %s | %.2f | %s | %s | %s |" % (
            name, ms, "%.2f" % p if p is not None else "–",
            "%.1f×" % (p / ms) if p is not None else "–", "%.3f" % n if n is not None else "–"))
    print()
    if pyo:
        worst = max(v for k, v in pyo["times"].items() if k.startswith("forward 1 image, ")
                    and "first" not in k)
        print("one image, one model, in Pyodide: at most %.2f ms against the %.0f ms target: %s"
              % (worst, TARGET_MS, "met" if worst <= TARGET_MS else "NOT met"))
        same = pyo["correct"] == cpy["correct"]
        print("test-set correct counts, Pyodide %s CPython: %s" % ("==" if same else "!=", pyo["correct"]))


if __name__ == "__main__":
    main()
