"""Train the digit ViTs of issue 12 and write content/models/.

    .venv/bin/python tests/vit/train.py [--out content/models] [--epochs N] [--jobs 2]

Data: scikit-learn's bundled ``load_digits`` (1,797 8x8 images, values
0..16), split once by ``default_rng(SEED).permutation``: 360 test, 1,437
train.  Model: one pre-norm block, D=32, 4 heads, MLP 64, one pixel per
patch (an 8x8 grid, 64 tokens + [CLS]); see tests/vit/README.md for why.

Configurations, same architecture, data, budget and seeds:
  learned        learned PE (init: the engine's ``learned``, timm trunc normal .02)
  none           no PE
  sincos         the engine's MAE ``sincos_2d``, fixed
  learned_shift  learned PE, trained on images shifted by up to 1 pixel

Deterministic: numpy in float64 with one BLAS thread per process (configs run
in parallel processes); every draw comes from seeded generators.  Writes
vit_digits.safetensors (float32 weights of every config + the test split) and
vit_digits.json (the record); every accuracy in the record is computed from
the float32 weights as stored.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: deterministic BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "pyodide_src"))

import numpy_vit as V  # noqa: E402
import safetensors_np  # noqa: E402
from pe_engine import learned, resample, sincos_2d  # noqa: E402
from pe_engine import vit as engine_vit  # noqa: E402

SEED = 0
TEST_SIZE = 360
PIXEL_MAX = 16
IMAGE = 8
MODEL = dict(grid=[8, 8], patch=1, channels=1, dim=32, heads=4, depth=1, mlp=64, classes=10,
             pixel_max=PIXEL_MAX)
TRAIN = dict(epochs=100, batch_size=64, lr=3e-3, weight_decay=0.05, warmup_epochs=10,
             betas=[0.9, 0.999], eps=1e-8, schedule="linear warm-up, cosine to 0")
CONFIGS = {
    "learned": dict(pe="learned", shift=0),
    "none": dict(pe="none", shift=0),
    "sincos": dict(pe="sincos", shift=0),
    "learned_shift": dict(pe="learned", shift=1),
}
RESOLUTIONS = [12, 16]           # test images upsampled (engine ``upsample``): grid 12x12, 16x16
SHUFFLE_SEED = 0                 # image i: seeded_permutation(64, SHUFFLE_SEED + i)
NEIGHBOUR = "4-neighbours: |dr| + |dc| == 1"
FAR = "Chebyshev distance max(|dr|, |dc|) >= 3"
BLANK = 0.95                     # a slot is blank when >= 95% of training images are 0 there
WEIGHTS_NAME = "vit_digits.safetensors"
RECORD_NAME = "vit_digits.json"


def load_data(seed=SEED):
    """(train_x, train_y, test_x, test_y): uint8 images (n, 8, 8), int labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = digits.images.astype(np.uint8)           # exact: values are 0..16
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    te, tr = np.sort(perm[:TEST_SIZE]), np.sort(perm[TEST_SIZE:])
    return x[tr], y[tr], x[te], y[te]


def model_cfg():
    return dict(MODEL)


def fixed_pos(pe, grid, dim):
    if pe == "sincos":
        return np.array(sincos_2d(grid, grid, dim, cls_token=True))
    return None


def shift_batch(images, rng, s):
    """Each image moved by (dy, dx) in [-s, s]^2, zero fill (no wrap)."""
    n, h, w = images.shape
    pad = np.pad(images, ((0, 0), (s, s), (s, s)))
    off = rng.integers(0, 2 * s + 1, size=(n, 2))
    return np.stack([pad[i, a:a + h, b:b + w] for i, (a, b) in enumerate(off)])


def train_one(name, epochs=None, data=None, seed=SEED, model=None, log=None, hyper=None):
    """Train one configuration.  model / hyper override MODEL / TRAIN entries
    (for the tests' reduced runs).  Returns (params float64, pos or None, history)."""
    spec = CONFIGS[name]
    cfg = dict(model or MODEL)
    hp = dict(TRAIN, **(hyper or {}))
    epochs = hp["epochs"] if epochs is None else epochs
    tx, ty, vx, vy = data if data is not None else load_data(seed)
    g, d = cfg["grid"][0], cfg["dim"]
    n = g * g
    table = learned(n + 1, d, seed=seed) if spec["pe"] == "learned" else None
    params = V.init_params(cfg, seed, table)
    fixed = fixed_pos(spec["pe"], g, d)
    opt = V.AdamW(params, lr=hp["lr"], betas=tuple(hp["betas"]), eps=hp["eps"],
                  weight_decay=hp["weight_decay"])
    order_rng = np.random.default_rng(seed + 1)
    shift_rng = np.random.default_rng(seed + 2)
    bs = hp["batch_size"]
    per_epoch = -(-len(tx) // bs)
    total = epochs * per_epoch
    warmup = hp["warmup_epochs"] * per_epoch if epochs >= 2 * hp["warmup_epochs"] else max(1, total // 10)
    test_patches = V.patchify(vx / PIXEL_MAX, cfg["patch"])
    losses, test_curve, step = [], [], 0
    t0 = time.perf_counter()
    for ep in range(epochs):
        order = order_rng.permutation(len(tx))
        tot = 0.0
        for i in range(0, len(order), bs):
            idx = order[i:i + bs]
            imgs = tx[idx]
            if spec["shift"]:
                imgs = shift_batch(imgs, shift_rng, spec["shift"])
            xb = V.patchify(imgs / PIXEL_MAX, cfg["patch"])
            loss, grads = V.loss_and_grads(params, xb, ty[idx], cfg, fixed)
            opt.step(params, grads, V.lr_at(step, total, hp["lr"], warmup))
            step += 1
            tot += loss * len(idx)
        losses.append(tot / len(tx))
        test_curve.append(float((V.forward(params, test_patches, cfg, fixed).argmax(1) == vy).mean()))
        if log:
            log("%-14s epoch %3d  loss %.4f  test %.3f" % (name, ep + 1, losses[-1], test_curve[-1]))
    hist = {"loss_curve": losses, "test_accuracy_curve": test_curve,
            "wall_seconds": time.perf_counter() - t0}
    return params, fixed, hist


def _train_job(args):
    name, epochs = args
    params, _, hist = train_one(name, epochs)
    return name, {k: v for k, v in params.items()}, hist


# --- evaluation on the stored (float32) weights --------------------------------------

def _acc(params, patches, labels, cfg, pos):
    pred = V.forward(params, patches, cfg, pos).argmax(1)
    return {"accuracy": float((pred == labels).mean()), "correct": int((pred == labels).sum()),
            "total": int(len(labels))}


def upsampled_tests(vx):
    """{size: (n, size, size) float array}: the test images upsampled by the engine."""
    return {size: np.array([engine_vit.upsample(im.ravel().tolist(), IMAGE, size) for im in vx])
            .reshape(-1, size, size) for size in RESOLUTIONS}


def evaluate(name, params, data, big, cfg=None):
    """Every accuracy of the record for one config (params as stored); big:
    ``upsampled_tests``."""
    cfg = dict(cfg or MODEL)
    patch = cfg["patch"]
    spec = CONFIGS[name]
    tx, ty, vx, vy = data
    g, d = cfg["grid"][0], cfg["dim"]
    n = g * g
    pos = fixed_pos(spec["pe"], g, d)
    test = V.patchify(vx / PIXEL_MAX, patch)
    out = {"train": _acc(params, V.patchify(tx / PIXEL_MAX, patch), ty, cfg, pos),
           "test": _acc(params, test, vy, cfg, pos)}
    orders = engine_vit.shuffle_orders(len(vx), n, SHUFFLE_SEED)
    shuffled = np.stack([test[i][o] for i, o in enumerate(orders)])
    out["shuffled"] = dict(_acc(params, shuffled, vy, cfg, pos), seed=SHUFFLE_SEED)
    out["resolution"] = {}
    for size in RESOLUTIONS:
        patches = V.patchify(big[size] / PIXEL_MAX, patch)
        new = size // patch
        res = {}
        if spec["pe"] == "learned":
            for method in ("timm", "deit", "jax"):
                table = np.array(resample(params["pos"].tolist(), new, g, 1, method))
                res[method] = _acc(params, patches, vy, cfg, table)
        elif spec["pe"] == "sincos":
            res["recomputed"] = _acc(params, patches, vy, cfg, fixed_pos("sincos", new, d))
            for method in ("timm", "deit", "jax"):  # for comparison: resampled like a learned table
                table = np.array(resample(sincos_2d(g, g, d, cls_token=True), new, g, 1, method))
                res[method] = _acc(params, patches, vy, cfg, table)
        else:
            res["unchanged"] = _acc(params, patches, vy, cfg, None)
        out["resolution"]["%dx%d" % (size, size)] = res
    return out


def neighbour_far(table, grid, blank=None):
    """The engine's ``neighbour_far_similarity`` on a numpy or list table."""
    return engine_vit.neighbour_far_similarity([list(map(float, r)) for r in table], grid, 1, 3, blank)


def as_stored(params):
    """float64 params -> the float32 values the file holds, back in float64."""
    return {k: v.astype(np.float32).astype(np.float64) for k, v in params.items()}


def build_file(trained, data):
    """Ordered tensors + metadata -> bytes of the weights file."""
    tensors = {}
    for name in CONFIGS:
        for k, v in trained[name].items():
            tensors["%s.%s" % (name, k)] = v.astype(np.float32)
    _, _, vx, vy = data
    tensors["test.images"] = vx.astype(np.uint8)
    tensors["test.labels"] = vy.astype(np.uint8)
    models = {name: dict(MODEL, pe=CONFIGS[name]["pe"]) for name in CONFIGS}
    meta = {"format": engine_vit.FORMAT, "format_version": str(engine_vit.FORMAT_VERSION),
            "models": json.dumps(models, separators=(",", ":")),
            "test": json.dumps({"images": "test.images", "labels": "test.labels",
                                "pixel_max": PIXEL_MAX, "split_seed": SEED}, separators=(",", ":")),
            "source": "tests/vit/train.py"}
    return safetensors_np.dumps(tensors, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "content" / "models"))
    ap.add_argument("--epochs", type=int, default=TRAIN["epochs"])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = load_data()
    jobs = [(name, args.epochs) for name in CONFIGS]
    if args.jobs > 1:
        with get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(_train_job, jobs, chunksize=1)
    else:
        results = [_train_job(j) for j in jobs]
    train_wall = time.perf_counter() - t0
    trained = {name: as_stored(p) for name, p, _ in results}
    hists = {name: h for name, _, h in results}
    blob = build_file(trained, data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS_NAME).write_bytes(blob)

    tx = data[0]
    zero_frac = (tx.reshape(len(tx), -1) == 0).mean(0)
    blank = {i for i, f in enumerate(zero_frac) if f >= BLANK}
    g = MODEL["grid"][0]
    sims = {"definition": {"neighbour": NEIGHBOUR, "far": FAR,
                           "blank_slot": "pixel 0 in >= %d%% of training images" % round(BLANK * 100),
                           "measure": "mean cosine similarity of patch rows ([CLS] row left out), "
                                      "unordered pairs, engine similarity_matrix"},
            "blank_slots": sorted(blank),
            "zero_fraction": [round(float(f), 6) for f in zero_frac],
            "tables": {}}
    for name in CONFIGS:
        if CONFIGS[name]["pe"] == "learned":
            sims["tables"][name + " (trained)"] = neighbour_far(trained[name]["pos"], g, blank)
    sims["tables"]["learned (init)"] = neighbour_far(np.array(learned(g * g + 1, MODEL["dim"], SEED)), g, blank)
    sims["tables"]["sincos"] = neighbour_far(fixed_pos("sincos", g, MODEL["dim"]), g, blank)

    import sklearn
    configs = {}
    big = upsampled_tests(data[2])
    for name in CONFIGS:
        ev = evaluate(name, trained[name], data, big)
        configs[name] = dict(CONFIGS[name], epochs=args.epochs,
                             loss_curve=[round(x, 6) for x in hists[name]["loss_curve"]],
                             test_accuracy_curve=hists[name]["test_accuracy_curve"],
                             train_accuracy=ev["train"]["accuracy"],
                             test_accuracy=ev["test"]["accuracy"], test_correct=ev["test"]["correct"],
                             shuffled=ev["shuffled"], resolution=ev["resolution"],
                             wall_seconds=round(hists[name]["wall_seconds"], 2))
    tensors, _ = safetensors_np.loads(blob)
    record = {
        "format": engine_vit.FORMAT, "format_version": engine_vit.FORMAT_VERSION,
        "command": "make train  (tests/vit/train.py)",
        "seed": SEED,
        "weights": {"file": WEIGHTS_NAME, "sha256": hashlib.sha256(blob).hexdigest(),
                    "bytes": len(blob), "dtype": "F32 (test split U8)",
                    "tensors": {k: list(v.shape) for k, v in tensors.items()}},
        "data": {"source": "sklearn.datasets.load_digits", "scikit_learn": sklearn.__version__,
                 "images": int(len(tx) + TEST_SIZE), "image_size": [IMAGE, IMAGE],
                 "pixel_max": PIXEL_MAX, "split": "numpy default_rng(seed).permutation: first %d test"
                 % TEST_SIZE, "train": int(len(tx)), "test": TEST_SIZE},
        "model": dict(MODEL, gelu="tanh", layer_norm_eps=V.LN_EPS, qkv_bias=True,
                      pre_norm=True, cls_token=True,
                      init={"pos": "engine learned(N+1, D, seed): trunc normal std .02, cut at +-2",
                            "cls": "trunc normal std .02",
                            "patch": "U(-1/sqrt(K), 1/sqrt(K)) weight and bias (PyTorch Conv2d default)",
                            "linear": "Xavier uniform, qkv with fan_out/3 (timm init_weights_vit_jax), "
                                      "bias 0", "layer_norm": "1, 0"}),
        "training": dict(TRAIN, epochs=args.epochs, loss="softmax cross-entropy",
                         optimizer="AdamW (decoupled; no decay on biases, LayerNorm, pos, cls)",
                         dtype="float64, 1 BLAS thread per process", jobs=args.jobs),
        "evaluation": {"shuffled": "image i: patches permuted by engine seeded_permutation(64, %d + i); "
                                   "the PE stays on the slots" % SHUFFLE_SEED,
                       "resolution": "test images upsampled by engine upsample (bilinear, aligned "
                                     "corners) to %s; learned table resampled by engine resample "
                                     "(timm | deit | jax); sin-cos recomputed for the new grid ('recomputed'), and for "
                                     "comparison its trained-grid table resampled (timm | deit | jax); "
                                     "none unchanged"
                                     % ", ".join("%dx%d" % (s, s) for s in RESOLUTIONS),
                       "weights": "float32 as stored in the file"},
        "configs": configs,
        "similarity": sims,
        "wall_seconds": {"training": round(train_wall, 2), "total": round(time.perf_counter() - t0, 2)},
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "machine": platform.machine(), "cpus": os.cpu_count()},
    }
    (out / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n")
    print("wrote %s (%d bytes, sha256 %s) and %s in %.1f s"
          % (out / WEIGHTS_NAME, len(blob), record["weights"]["sha256"][:12], out / RECORD_NAME,
             record["wall_seconds"]["total"]))
    for name, c in configs.items():
        res = "; ".join("%s %s" % (size, ", ".join("%s %.3f" % (m, r["accuracy"]) for m, r in v.items()))
                        for size, v in c["resolution"].items())
        print("%-14s train %.3f  test %.3f  shuffled %.3f  | %s"
              % (name, c["train_accuracy"], c["test_accuracy"], c["shuffled"]["accuracy"], res))
    for name, s in sims["tables"].items():
        print("%-24s neighbour %.3f  far %.3f  gap %.3f" % (name, s["neighbour_mean"], s["far_mean"], s["gap"]))


if __name__ == "__main__":
    main()
