"""patchify / grid_shape / projection / embed_sequence / vit_dimensions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import references as R
from pe_engine import (
    PRESETS, Patches, embed_sequence, grid_shape, init_cls_token, init_projection,
    patchify, project, vit_dimensions, vit_param_count,
)


def test_doc_example_patches_and_tokens():
    pixels = [float(v) for v in range(16)]
    patches = patchify(pixels, 4, 4, 1, 2)
    assert patches == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    weight = [[0.25, 1.0], [0.25, -1.0], [0.25, 0.0], [0.25, 0.0]]
    tokens = project(patches, weight, [0.0, 0.0])
    assert tokens == [[2.5, -1.0], [4.5, -1.0], [10.5, -1.0], [12.5, -1.0]]


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 23), w=st.integers(1, 23), c=st.integers(1, 4),
       p=st.integers(1, 8), seed=st.integers(0, 2**31))
def test_patchify_matches_reshape_reference(h, w, c, p, seed):
    if p > min(h, w):
        with pytest.raises(ValueError, match="patch"):
            patchify([0.0] * (h * w * c), h, w, c, p)
        return
    img = np.random.default_rng(seed).normal(size=(h, w, c))
    got = patchify(img.reshape(-1).tolist(), h, w, c, p)
    assert isinstance(got, Patches)
    g = got.grid
    assert (g.rows, g.cols) == (h // p, w // p)
    assert (g.dropped_height, g.dropped_width) == (h % p, w % p)
    assert (g.used_height, g.used_width) == (h - h % p, w - w % p)
    np.testing.assert_array_equal(np.array(got), R.patchify(img, p))


@settings(max_examples=20, deadline=None)
@given(h=st.integers(2, 12), w=st.integers(2, 12), c=st.integers(1, 3),
       p=st.integers(1, 4), d=st.integers(1, 6), seed=st.integers(0, 1000))
def test_patchify_project_equals_strided_conv(h, w, c, p, d, seed):
    if p > min(h, w):
        return
    img = np.random.default_rng(seed).normal(size=(h, w, c))
    weight, bias = init_projection(c * p * p, d, seed)
    tokens = project(patchify(img.reshape(-1).tolist(), h, w, c, p), weight, bias)
    # E = Wt.reshape(D, C*P*P).T  <=>  Wt = E.T.reshape(D, C, P, P)
    wt = np.array(weight).T.reshape(d, c, p, p)
    np.testing.assert_allclose(np.array(tokens), R.conv_tokens(img, wt, np.array(bias)),
                               atol=1e-12)


def test_grid_shape_384_p14_drops_6_pixels():
    assert grid_shape(384, 384, 14) == (27, 27, 378, 378, 6, 6)


def test_init_projection_pytorch_range_and_determinism():
    w, b = init_projection(48, 10, seed=7)
    assert len(w) == 48 and all(len(r) == 10 for r in w) and len(b) == 10
    bound = 1 / np.sqrt(48)
    assert np.abs(np.array(w)).max() <= bound and np.abs(np.array(b)).max() <= bound
    assert np.abs(np.array(w)).max() > 0.9 * bound
    assert init_projection(48, 10, seed=7) == (w, b)
    assert init_projection(48, 10, seed=8) != (w, b)


def test_cls_token_trunc_normal():
    cls = init_cls_token(4000, seed=1)
    assert abs(np.std(cls) - 0.02) < 0.002 and max(map(abs, cls)) <= 2.0
    assert init_cls_token(4000, seed=1) == cls


def test_embed_sequence_adds_pos_with_cls_first():
    tokens = [[2.5, -1.0], [4.5, -1.0]]
    cls = [0.5, 0.5]
    pos = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    assert embed_sequence(tokens, cls, pos) == [[1.5, 0.5], [2.5, 0.0], [5.5, 0.0]]
    assert embed_sequence(tokens, None, pos[1:]) == [[2.5, 0.0], [5.5, 0.0]]
    with pytest.raises(ValueError, match="pos"):
        embed_sequence(tokens, cls, pos[1:])
    with pytest.raises(ValueError, match="cls"):
        embed_sequence(tokens, [1.0], pos)


@pytest.mark.parametrize("call, name", [
    (lambda: patchify([0.0] * 16, 4, 4, 1, 0), "patch"),
    (lambda: patchify([0.0] * 15, 4, 4, 1, 2), "pixels"),
    (lambda: patchify([0.0] * 16, 0, 4, 1, 2), "height"),
    (lambda: patchify([0.0] * 16, 4, 4, 0, 2), "channels"),
    (lambda: grid_shape(4, -1, 2), "width"),
    (lambda: init_projection(0, 4, 1), "in_dim"),
    (lambda: init_projection(4, 4, "x"), "seed"),
    (lambda: project([[1.0, 2.0]], [[1.0]], [0.0]), "weight"),
    (lambda: project([[1.0]], [[1.0]], [0.0, 1.0]), "bias"),
    (lambda: vit_dimensions(224, 0, 768), "patch"),
    (lambda: vit_dimensions(224, 16, 768, channels=0), "channels"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_vit_dimensions_b16():
    d = vit_dimensions(224, 16, 768)
    assert d["num_patches"] == 196 and d["seq_len"] == 197 and d["grid"] == (14, 14)
    assert d["E_shape"] == (768, 768) and d["E_pos_shape"] == (197, 768)
    assert d["E_params"] == 768 * 768 + 768 and d["E_pos_params"] == 197 * 768
    assert d["dropped_pixels"] == (0, 0)
    d = vit_dimensions(384, 14, 1024)
    assert d["num_patches"] == 729 and d["seq_len"] == 730 and d["dropped_pixels"] == (6, 6)
    assert vit_dimensions((224, 160), 32, 8)["grid"] == (7, 5)


@pytest.mark.parametrize("res, p, n", [(224, 32, 49), (224, 16, 196), (224, 14, 256),
                                       (224, 8, 784), (384, 32, 144), (384, 16, 576),
                                       (384, 8, 2304)])
def test_token_table(res, p, n):
    assert vit_dimensions(res, p, 64)["num_patches"] == n


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_param_counts_match_timm(name):
    p = PRESETS[name]
    assert vit_param_count(p["image_size"], p["patch"], p["dim"], p["layers"], p["mlp"]) \
        == p["params"]
    assert p["dim"] % p["heads"] == 0


def test_b32_b8_param_counts():
    assert vit_param_count(224, 32, 768, 12, 3072) == 88224232
    assert vit_param_count(224, 8, 768, 12, 3072) == 86576872
