"""The digit ViT (issue 12): the numpy model's gradients, training, the engine's
pure-Python forward against the numpy forward, the weights file and its record."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import references as R
from pe_engine import learned, resample, seeded_permutation, sincos_2d
from pe_engine import vit as E

sys.path.insert(0, str(Path(__file__).resolve().parent / "vit"))
import numpy_vit as V  # noqa: E402
import safetensors_np as S  # noqa: E402
import train as T  # noqa: E402

A = np.testing.assert_allclose
MODELS = Path(__file__).resolve().parent.parent / "content" / "models"


# --- helpers -------------------------------------------------------------------------

def random_model(rng, gh, gw, patch, dim, heads, depth, mlp, classes, pe, scale=0.4):
    """Random float64 params (init + noise, so nothing is trivially 0 or 1),
    written to a weights file and read back by the engine."""
    cfg = dict(grid=[gh, gw], patch=patch, channels=1, dim=dim, heads=heads, depth=depth,
               mlp=mlp, classes=classes, pixel_max=16, pe=pe)
    table = rng.normal(0, 0.5, (gh * gw + 1, dim)) if pe == "learned" else None
    p = V.init_params(cfg, int(rng.integers(1 << 30)), table)
    p = {k: v + rng.normal(0, scale, v.shape) for k, v in p.items()}
    blob = S.dumps({"m." + k: v for k, v in p.items()},
                   {"format": E.FORMAT, "format_version": str(E.FORMAT_VERSION),
                    "models": json.dumps({"m": cfg})})
    return cfg, p, E.load(blob)["models"]["m"]


def numpy_pos(cfg, p, grid, method):
    """The table the numpy side adds, built independently where possible."""
    gh, gw = cfg["grid"]
    if cfg["pe"] == "none":
        return None
    if cfg["pe"] == "sincos":
        return R.sincos_2d(grid[0], grid[1], cfg["dim"], cls_token=True)
    if tuple(grid) == (gh, gw):
        return p["pos"]
    if method == "timm":  # the reference is Pillow in float32 (1e-6); resample is tested there
        return np.array(resample(p["pos"].tolist(), grid, (gh, gw), 1, "timm"))
    return R.resample(p["pos"], grid, (gh, gw), 1, method)


def images(rng, count, h, w):
    return rng.uniform(0, 16, size=(count, h, w))


# --- gradients ---------------------------------------------------------------------------

@pytest.mark.parametrize("depth, pe", [(1, "learned"), (2, "learned"), (2, "none"), (3, "sincos")])
def test_gradient_check_every_parameter(depth, pe):
    rng = np.random.default_rng(depth)
    cfg = dict(grid=[2, 3], patch=2, channels=1, dim=4, heads=2, depth=depth, mlp=6, classes=3)
    table = rng.normal(0, 0.5, (7, 4)) if pe == "learned" else None
    p = V.init_params(cfg, 3, table)
    p = {k: v + rng.normal(0, 0.5, v.shape) for k, v in p.items()}
    fixed = R.sincos_2d(2, 3, 4, cls_token=True) if pe == "sincos" else None
    x = V.patchify(rng.uniform(0, 1, (3, 4, 6)), 2)
    y = np.array([0, 2, 1])
    _, grads = V.loss_and_grads(p, x, y, cfg, fixed)
    assert set(grads) == set(p)  # every parameter has a gradient
    eps = 1e-6
    for name, value in p.items():
        num = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            up = V.loss_and_grads(p, x, y, cfg, fixed)[0]
            value[idx] = old - eps
            down = V.loss_and_grads(p, x, y, cfg, fixed)[0]
            value[idx] = old
            num[idx] = (up - down) / (2 * eps)
        A(grads[name], num, atol=1e-7 * max(1.0, np.abs(num).max()), err_msg=name)


def test_reduced_training_loss_falls():
    tx, ty, vx, vy = T.load_data()
    data = (tx[:512], ty[:512], vx[:64], vy[:64])  # the real model, 80 steps
    _, _, hist = T.train_one("learned", epochs=10, data=data, hyper=dict(lr=1e-2, warmup_epochs=1))
    curve = hist["loss_curve"]
    assert len(curve) == 10 and curve[-1] < 0.8 * curve[0], curve
    assert hist["test_accuracy_curve"][-1] > 0.3


def test_training_is_deterministic():
    tx, ty, vx, vy = T.load_data()
    small = dict(T.MODEL, dim=8, heads=2, mlp=16)
    data = (tx[:128], ty[:128], vx[:32], vy[:32])
    a = T.train_one("learned_shift", epochs=1, data=data, model=small)
    b = T.train_one("learned_shift", epochs=1, data=data, model=small)
    assert a[2]["loss_curve"] == b[2]["loss_curve"]
    for k in a[0]:
        assert np.array_equal(a[0][k], b[0][k]), k


def test_pe_initialised_by_the_engine():
    cfg = dict(T.MODEL)
    table = learned(65, 32, seed=T.SEED)
    p = V.init_params(cfg, T.SEED, table)
    assert np.array_equal(p["pos"], np.array(table))


# --- engine forward == numpy forward ----------------------------------------------------------

@st.composite
def model_specs(draw):
    gh, gw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dim = draw(st.sampled_from([4, 8, 12]))
    heads = draw(st.sampled_from([h for h in (1, 2, 4) if dim % h == 0]))
    return dict(gh=gh, gw=gw, patch=draw(st.integers(1, 2)), dim=dim, heads=heads,
                depth=draw(st.integers(1, 3)), mlp=draw(st.integers(2, 10)),
                classes=draw(st.integers(2, 5)), pe=draw(st.sampled_from(E.PE_KINDS)))


@settings(max_examples=40, deadline=None)
@given(spec=model_specs(), seed=st.integers(0, 10**6), permute=st.booleans(),
       regrid=st.booleans(), method=st.sampled_from(E.METHODS),
       data=st.data())
def test_engine_forward_matches_numpy(spec, seed, permute, regrid, method, data):
    rng = np.random.default_rng(seed)
    cfg, p, model = random_model(rng, **spec)
    grid = (spec["gh"], spec["gw"])
    if regrid:
        grid = (data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    P = spec["patch"]
    h, w = grid[0] * P, grid[1] * P
    img = images(rng, 1, h, w)
    n = grid[0] * grid[1]
    order = seeded_permutation(n, seed) if permute else None
    patches = V.patchify(img / 16.0, P)
    if order is not None:
        patches = patches[:, order]
    pos = numpy_pos(cfg, p, grid, method)
    logits, cache = V.forward(p, patches, cfg, pos, keep=True)
    if cfg["pe"] == "none":
        assert not cache["pos_used"]
    for fast in (True, False):
        out = E.forward(model, img.ravel().tolist(), (h, w), method, order, fast=fast)
        A(out["logits"], logits[0], atol=1e-9, rtol=0)
        A(out["probs"], V.softmax(logits)[0], atol=1e-9, rtol=0)
        A(out["cls"], cache["cls_out"][0], atol=1e-9, rtol=0)
        assert out["grid"] == list(grid)
        assert len(out["attention"]) == cfg["depth"]
        for layer, att in enumerate(cache["attn"]):
            got = np.array(out["attention"][layer])            # heads x rows x cols
            assert got.shape == (spec["heads"], grid[0], grid[1])
            A(got.reshape(spec["heads"], n), att[0, :, 0, 1:], atol=1e-9, rtol=0)
            A(out["attention_cls"][layer], att[0, :, 0, 0], atol=1e-9, rtol=0)
        assert out["prediction"] == int(np.argmax(out["logits"]))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(1, 2))
def test_explicit_pos_and_drop_pe(seed, depth):
    rng = np.random.default_rng(seed)
    cfg, p, model = random_model(rng, 3, 3, 1, 8, 2, depth, 6, 3, "learned")
    img = images(rng, 1, 3, 3)
    other = rng.normal(0, 1, (10, 8))
    patches = V.patchify(img / 16.0, 1)
    A(E.forward(model, img.ravel().tolist(), pos=other.tolist())["logits"],
      V.forward(p, patches, cfg, other)[0], atol=1e-9, rtol=0)
    q = {k: v for k, v in p.items() if k != "pos"}
    A(E.forward(model, img.ravel().tolist(), drop_pe=True)["logits"],
      V.forward(q, patches, cfg, None)[0], atol=1e-9, rtol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(1, 3), n=st.integers(2, 4))
def test_no_pe_cls_output_bit_identical_under_permutation(seed, depth, n):
    rng = np.random.default_rng(seed)
    _, _, model = random_model(rng, n, n, 1, 8, 2, depth, 6, 3, "none")
    img = images(rng, 1, n, n).ravel().tolist()
    order = seeded_permutation(n * n, seed)
    for fast in (True, False):
        a = E.forward(model, img, fast=fast)
        b = E.forward(model, img, order=order, fast=fast)
        assert a["cls"] == b["cls"] and a["logits"] == b["logits"]
        # the attention moves with the patches
        fa = [x for row in a["attention"][-1][0] for x in row]
        fb = [x for row in b["attention"][-1][0] for x in row]
        assert fb == [fa[i] for i in order]


def test_upsample_matches_scipy_zoom():
    from scipy import ndimage
    img = np.random.default_rng(0).integers(0, 17, (8, 8)).astype(float)
    for new in (12, 16, 5):
        A(np.array(E.upsample(img.ravel().tolist(), 8, new)).reshape(new, new),
          ndimage.zoom(img, new / 8, order=1), atol=1e-12)


def test_pos_table_per_kind():
    rng = np.random.default_rng(1)
    _, p, m = random_model(rng, 4, 4, 1, 8, 2, 1, 4, 3, "learned")
    assert E.pos_table(m) == p["pos"].tolist()
    assert E.pos_table(m, 6, "deit") == resample(p["pos"].tolist(), 6, 4, 1, "deit")
    _, _, s = random_model(rng, 4, 4, 1, 8, 2, 1, 4, 3, "sincos")
    assert E.pos_table(s, (5, 6)) == sincos_2d(5, 6, 8, cls_token=True)
    _, _, z = random_model(rng, 4, 4, 1, 8, 2, 1, 4, 3, "none")
    assert E.pos_table(z, 6) is None
    with pytest.raises(ValueError, match="method"):
        E.pos_table(m, 6, "bilinear")


def test_safetensors_reader_against_numpy_writer():
    rng = np.random.default_rng(2)
    tensors = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5).astype(np.float32),
               "c": rng.integers(0, 255, (2, 2, 3)).astype(np.uint8),
               "d": rng.integers(-9, 9, 4).astype(np.int64)}
    blob = S.dumps(tensors, {"k": "v"})
    got, meta = E.read_safetensors(blob)
    assert meta == {"k": "v"}
    for k, v in tensors.items():
        shape, flat = got[k]
        assert shape == v.shape
        assert flat == v.ravel().tolist()
    (n,) = np.frombuffer(blob[:8], "<u8")
    assert n % 8 == 0
    with pytest.raises(ValueError, match="data"):
        E.read_safetensors(blob[:4])
    with pytest.raises(ValueError, match="format"):
        E.load(blob)


def test_accuracy_helper_and_errors():
    rng = np.random.default_rng(3)
    _, _, m = random_model(rng, 3, 3, 1, 8, 2, 1, 4, 3, "learned")
    imgs = [images(rng, 1, 3, 3).ravel().tolist() for _ in range(5)]
    preds = [E.predict(m, im) for im in imgs]
    res = E.accuracy(m, imgs, preds)
    assert res == {"correct": 5, "total": 5, "accuracy": 1.0, "predictions": preds}
    order = seeded_permutation(9, 1)
    assert E.accuracy(m, imgs, preds, orders=order)["predictions"] == [
        E.predict(m, im, order=order) for im in imgs]
    with pytest.raises(ValueError, match="order"):
        E.forward(m, imgs[0], order=[0, 1])
    with pytest.raises(ValueError, match="pos"):
        E.forward(m, imgs[0], pos=[[0.0] * 8])
    with pytest.raises(ValueError, match="pixels"):
        E.forward(m, imgs[0][:-1])


# --- the committed weights and record -------------------------------------------------------------

@pytest.fixture(scope="module")
def committed():
    blob = (MODELS / T.WEIGHTS_NAME).read_bytes()
    record = json.loads((MODELS / T.RECORD_NAME).read_text())
    return blob, record, E.load(blob)


def test_record_matches_file(committed):
    blob, record, bundle = committed
    w = record["weights"]
    assert w["file"] == T.WEIGHTS_NAME
    assert w["sha256"] == hashlib.sha256(blob).hexdigest()
    assert w["bytes"] == len(blob)
    tensors, meta = S.loads(blob)
    assert {k: list(v.shape) for k, v in tensors.items()} == w["tensors"]
    assert meta["format"] == E.FORMAT and int(meta["format_version"]) == E.FORMAT_VERSION
    assert set(bundle["models"]) == set(record["configs"]) == set(T.CONFIGS)
    # the stored test split is the seeded split of load_digits
    _, _, vx, vy = T.load_data(record["seed"])
    assert np.array_equal(tensors["test.images"], vx) and np.array_equal(tensors["test.labels"], vy)
    assert bundle["test_images"] == [im.ravel().tolist() for im in vx]
    assert bundle["test_labels"] == vy.tolist()
    assert bundle["image_size"] == (8, 8)
    assert len(blob) < 300_000


_BIG = {}


def _upsampled(imgs, size):
    if size not in _BIG:
        _BIG[size] = [E.upsample(im, 8, size) for im in imgs]
    return _BIG[size]


@pytest.mark.parametrize("name", list(T.CONFIGS))
def test_record_accuracies_recomputed_by_engine(committed, name):
    _, record, bundle = committed
    model, rec = bundle["models"][name], record["configs"][name]
    imgs, labels = bundle["test_images"], bundle["test_labels"]
    assert E.accuracy(model, imgs, labels)["correct"] == rec["test_correct"]
    orders = E.shuffle_orders(len(imgs), 64, rec["shuffled"]["seed"])
    assert E.accuracy(model, imgs, labels, orders=orders)["correct"] == rec["shuffled"]["correct"]
    for size_key, methods in rec["resolution"].items():
        size = int(size_key.split("x")[0])
        big = _upsampled(imgs, size)
        for method, res in methods.items():
            if model.pe == "sincos" and method != "recomputed":
                table = resample(model.pos, size, 8, 1, method)
                got = E.accuracy(model, big, labels, size=size, pos=table)
            else:
                got = E.accuracy(model, big, labels, size=size,
                                 method=method if method in E.METHODS else "timm")
            assert got["correct"] == res["correct"], (size_key, method)
        assert set(methods) == {"learned": {"timm", "deit", "jax"}, "none": {"unchanged"},
                                "sincos": {"recomputed", "timm", "deit", "jax"}}[model.pe]
    if model.pe == "none":
        assert rec["shuffled"]["correct"] == rec["test_correct"]


def test_record_summary_is_consistent(committed):
    _, record, _ = committed
    for name, c in record["configs"].items():
        assert len(c["loss_curve"]) == c["epochs"] == record["training"]["epochs"]
        assert c["test_accuracy"] == c["test_correct"] / record["data"]["test"]
    sims = record["similarity"]["tables"]
    assert set(sims) >= {"learned (trained)", "learned (init)", "sincos"}


def _numpy_neighbour_far(pe, gh, gw, far=3):
    sim = R.similarity_matrix(np.asarray(pe)[1:])
    r, c = np.divmod(np.arange(gh * gw), gw)
    dr, dc = np.abs(r[:, None] - r[None, :]), np.abs(c[:, None] - c[None, :])
    upper = np.triu(np.ones_like(sim, dtype=bool), 1)
    near = upper & (dr + dc == 1)
    farm = upper & (np.maximum(dr, dc) >= far)
    return sim[near].mean(), sim[farm].mean(), int(near.sum()), int(farm.sum())


@pytest.mark.parametrize("gh, gw", [(8, 8), (3, 5), (6, 4)])
def test_neighbour_far_similarity_matches_numpy(gh, gw):
    pe = np.random.default_rng(gh * gw).normal(size=(gh * gw + 1, 12)).tolist()
    got = E.neighbour_far_similarity(pe, (gh, gw))
    nm, fm, nn, nf = _numpy_neighbour_far(pe, gh, gw)
    A([got["neighbour_mean"], got["far_mean"]], [nm, fm], atol=1e-12)
    assert (got["neighbour_pairs"], got["far_pairs"]) == (nn, nf)
    A(got["gap"], nm - fm, atol=1e-12)


def test_record_similarity_recomputed_by_engine(committed):
    _, record, bundle = committed
    sims = record["similarity"]
    blank = set(sims["blank_slots"])
    tables = {name + " (trained)": m.pos for name, m in bundle["models"].items() if m.pe == "learned"}
    tables["learned (init)"] = learned(65, 32, seed=record["seed"])
    tables["sincos"] = sincos_2d(8, 8, 32, cls_token=True)
    assert set(tables) == set(sims["tables"])
    for name, table in tables.items():
        got = E.neighbour_far_similarity(table, 8, blank=blank)
        for key, value in sims["tables"][name].items():
            A(got[key], value, atol=1e-12, err_msg="%s %s" % (name, key))
    assert sims["tables"]["learned (init)"]["gap"] < 0.05 < sims["tables"]["learned (trained)"]["gap"]


def test_from_canvas_matches_block_counts():
    # load_digits' own recipe: 32x32 bitmaps counted over 4x4 blocks -> 0..16
    rng = np.random.default_rng(5)
    bitmap = rng.integers(0, 2, (32, 32))
    got = E.from_canvas((bitmap * 255).ravel().tolist(), 32, 32)
    A(np.array(got).reshape(8, 8), bitmap.reshape(8, 4, 8, 4).sum((1, 3)), atol=1e-12)
    assert len(E.from_canvas([0] * (280 * 280), 280, 280)) == 64
