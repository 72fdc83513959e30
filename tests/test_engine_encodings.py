"""Encodings: worked examples from the reference doc, numpy references on
random sizes, seeded determinism and error messages."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import references as R
from pe_engine import (
    learned, learned_2d, relative_position_bias, relative_position_index, rope_2d_axial,
    rope_scores, sincos_2d, sinusoidal_1d,
)
from pe_engine._random import make_rng, trunc_normals

A = np.testing.assert_allclose


def test_sinusoidal_doc_example_d4():
    A(sinusoidal_1d(4, 4), [[0, 1, 0, 1],
                            [0.841471, 0.540302, 0.010000, 0.999950],
                            [0.909297, -0.416147, 0.019999, 0.999800],
                            [0.141120, -0.989992, 0.029996, 0.999550]], atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), half=st.integers(1, 40))
def test_sinusoidal_matches_pytorch_examples(n, half):
    A(sinusoidal_1d(n, 2 * half), R.sinusoidal_1d(n, 2 * half), atol=1e-9)


def test_sincos_2d_doc_example_d8():
    expected = [[0] * 8,
                [0, 0, 1, 1, 0, 0, 1, 1],
                [0.841471, 0.01, 0.540302, 0.99995, 0, 0, 1, 1],
                [0, 0, 1, 1, 0.841471, 0.01, 0.540302, 0.99995],
                [0.841471, 0.01, 0.540302, 0.99995, 0.841471, 0.01, 0.540302, 0.99995]]
    got = sincos_2d(2, 2, 8, cls_token=True)
    A(got, expected, atol=1e-6)
    assert got[0] == [0.0] * 8


@settings(max_examples=40, deadline=None)
@given(gh=st.integers(1, 12), gw=st.integers(1, 12), q=st.integers(1, 24), cls=st.booleans())
def test_sincos_2d_matches_mae(gh, gw, q, cls):
    A(sincos_2d(gh, gw, 4 * q, cls_token=cls), R.sincos_2d(gh, gw, 4 * q, cls_token=cls),
      atol=1e-9)


def test_sincos_cosine_similarity_doc_numbers():
    from pe_engine import cosine_similarity_map
    m = cosine_similarity_map(sincos_2d(2, 2, 8), 2, 2, 0, num_prefix_tokens=0)
    A(m, [[1.0, 0.885063], [0.885063, 0.770126]], atol=1e-6)


def test_learned_timm_init_statistics_and_determinism():
    t = learned(197, 768, seed=0)
    assert len(t) == 197 and all(len(r) == 768 for r in t)
    x = np.array(t)
    assert abs(x.mean()) < 5e-4 and abs(x.std() - 0.02) < 3e-4
    assert np.abs(x).max() <= 2.0
    assert learned(197, 768, seed=0) == t
    assert learned(197, 768, seed=1) != t


def test_sampler_is_standard_normal():
    from scipy import stats
    z = trunc_normals(make_rng(123), 60000, std=1.0, low=-50.0, high=50.0)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # tails (the ziggurat's slow paths) have the right mass
    assert abs(np.mean(np.abs(z) > 3.442619855899) - 2 * stats.norm.sf(3.442619855899)) < 3e-4


def test_truncation_rejects_out_of_range():
    z = trunc_normals(make_rng(5), 20000, std=1.0, low=-0.5, high=1.0)
    assert min(z) >= -0.5 and max(z) <= 1.0
    from scipy import stats
    ref = stats.truncnorm(-0.5, 1.0)
    assert stats.kstest(z, ref.cdf).pvalue > 1e-3


def test_learned_2d_layout():
    gh, gw, d = 3, 4, 10
    pe = learned_2d(gh, gw, d, seed=4, cls_token=True)
    rng = make_rng(4)
    flat = trunc_normals(rng, (gw + gh) * 5, 0.02)
    xs = np.array(flat[:gw * 5]).reshape(gw, 5)
    ys = np.array(flat[gw * 5:]).reshape(gh, 5)
    cls = trunc_normals(rng, d, 0.02)
    np.testing.assert_array_equal(pe, R.learned_2d_from_tables(xs, ys, cls))
    # tables do not depend on cls_token
    assert learned_2d(gh, gw, d, seed=4) == pe[1:]


# --- RoPE (doc section 6) -------------------------------------------------------

Q = [1.0, 2, 3, 4, 5, 6, 7, 8]
K = [0.5, -1, 2, 0, 1, 1, -0.5, 0.25]


def test_rope_axial_doc_examples():
    rot = rope_2d_axial(Q, 2, 2)
    A(rot[1], [-1.142640, 1.922076, 2.585679, 4.279517, 5, 6, 7, 8], atol=1e-6)
    A(rot[2], [1, 2, 3, 4, -2.347314, 7.449169, 6.166362, 8.658867], atol=1e-6)
    assert rot[0] == Q
    s = rope_scores(Q, K, 2, 2)
    A(s[0], [14, 17.141181, 9.218248, 12.359429], atol=1e-6)
    A(s[1], [12.177962, 14, 7.396210, 9.218248], atol=1e-6)


def test_rope_eva_doc_examples():
    rot = rope_2d_axial(Q, 2, 2, convention="eva")
    A(rot[1], [1, 2, 3, 4, -2.347314, 7.449169, 6.919651, 8.069599], atol=1e-6)
    A(rot[2], [-1.142640, 1.922076, 2.959851, 4.029800, 5, 6, 7, 8], atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(gh=st.integers(1, 6), gw=st.integers(1, 6), q=st.integers(1, 6),
       seed=st.integers(0, 10**6), conv=st.sampled_from(["rope-vit", "eva"]))
def test_rope_matches_complex_reference_and_is_shift_invariant(gh, gw, q, seed, conv):
    rng = np.random.default_rng(seed)
    qv, kv = rng.normal(size=4 * q).tolist(), rng.normal(size=4 * q).tolist()
    base = 100.0 if conv == "rope-vit" else 10000.0
    A(rope_2d_axial(qv, gh, gw, convention=conv), R.rope_rotate(qv, gh, gw, base, conv),
      atol=1e-9)
    s = np.array(rope_scores(qv, kv, gh, gw, convention=conv))
    # score depends only on the 2-D offset between query and key
    by_offset = {}
    for i in range(gh * gw):
        for j in range(gh * gw):
            off = (i // gw - j // gw, i % gw - j % gw)
            by_offset.setdefault(off, []).append(s[i, j])
    for vals in by_offset.values():
        A(vals, [vals[0]] * len(vals), atol=1e-9)
    # norms are preserved by the rotation
    A(np.linalg.norm(rope_2d_axial(qv, gh, gw, convention=conv), axis=1),
      np.linalg.norm(qv), rtol=1e-12)


# --- Swin ----------------------------------------------------------------------

def test_swin_index_doc_examples():
    assert relative_position_index(2, 2) == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3],
                                             [8, 7, 5, 4]]
    idx = relative_position_index(7, 7)
    assert len(idx) == 49 and idx[0][0] == 84 and idx[0][48] == 0 and idx[48][0] == 168
    assert max(map(max, idx)) == 168


@settings(max_examples=30, deadline=None)
@given(mh=st.integers(1, 9), mw=st.integers(1, 9))
def test_swin_index_matches_reference(mh, mw):
    np.testing.assert_array_equal(relative_position_index(mh, mw),
                                  R.relative_position_index(mh, mw))


def test_swin_bias_gathers_table():
    table, index, bias = relative_position_bias(3, 2, heads=3, seed=9)
    assert len(table) == 5 * 3 and all(len(r) == 3 for r in table)
    t = np.array(table)
    assert abs(t).max() <= 2.0
    np.testing.assert_array_equal(np.array(bias), t[np.array(index)].transpose(2, 0, 1))
    assert relative_position_bias(3, 2, heads=3, seed=9).table == table


# --- errors ----------------------------------------------------------------------

def test_sincos_dim_error_message():
    with pytest.raises(ValueError, match=r"dim must be a multiple of 4 for 2D sin-cos \(got 6\)"):
        sincos_2d(2, 2, 6)


@pytest.mark.parametrize("call, name", [
    (lambda: sinusoidal_1d(0, 4), "num_positions"),
    (lambda: sinusoidal_1d(3, 5), "dim"),
    (lambda: sinusoidal_1d(3, 4, base=0), "base"),
    (lambda: sincos_2d(0, 2, 8), "grid_h"),
    (lambda: sincos_2d(2, -1, 8), "grid_w"),
    (lambda: sincos_2d(2, 2, 2.0), "dim"),
    (lambda: learned(3, 0), "dim"),
    (lambda: learned(3, 4, seed=1.5), "seed"),
    (lambda: learned(3, 4, std=0), "std"),
    (lambda: learned_2d(2, 2, 3), "dim"),
    (lambda: rope_2d_axial([1.0] * 6, 2, 2), "head_dim"),
    (lambda: rope_2d_axial([1.0] * 8, 2, 2, convention="xy"), "convention"),
    (lambda: rope_scores([1.0] * 8, [1.0] * 4, 2, 2), "k"),
    (lambda: relative_position_index(0, 2), "window_h"),
    (lambda: relative_position_bias(2, 2, heads=0), "heads"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
