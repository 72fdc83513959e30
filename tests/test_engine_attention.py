"""Similarity maps and the permutation property of self-attention."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import references as R
from pe_engine import (
    cosine_similarity_map, init_attention, learned, permute_tokens, seeded_permutation,
    self_attention, similarity_matrix, sincos_2d,
)

A = np.testing.assert_allclose


@settings(max_examples=30, deadline=None)
@given(gh=st.integers(1, 8), gw=st.integers(1, 8), q=st.integers(1, 8), cls=st.booleans(),
       data=st.data())
def test_cosine_map_matches_reference(gh, gw, q, cls, data):
    pe = sincos_2d(gh, gw, 4 * q, cls_token=cls)
    idx = data.draw(st.integers(0, gh * gw - 1))
    prefix = 1 if cls else 0
    m = cosine_similarity_map(pe, gh, gw, idx, prefix)
    assert len(m) == gh and all(len(r) == gw for r in m)
    A(m, R.cosine_similarity_map(pe, gh, gw, idx, prefix), atol=1e-12)
    assert abs(m[idx // gw][idx % gw] - 1.0) < 1e-12


def test_similarity_matrix_matches_reference_and_zero_rows():
    pe = sincos_2d(3, 3, 8, cls_token=True)  # row 0 is all zeros
    s = similarity_matrix(pe)
    A(s, R.similarity_matrix(pe), atol=1e-12)
    assert s[0] == [0.0] * 10
    pe = learned(10, 16, seed=2)
    A(similarity_matrix(pe), R.similarity_matrix(pe), atol=1e-12)


@pytest.mark.parametrize("args, name", [
    ((3, 3, 9), "index"), ((3, 3, -1), "index"), ((2, 3, 0), "pe"), ((0, 3, 0), "grid_h"),
])
def test_similarity_errors(args, name):
    with pytest.raises(ValueError, match=name):
        cosine_similarity_map(sincos_2d(3, 3, 8, True), *args)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_self_attention_matches_numpy(heads):
    x = np.random.default_rng(0).normal(size=(7, 8)).tolist()
    out, weights = self_attention(x, seed=3, heads=heads, return_attention=True)
    A(out, R.self_attention(x, *init_attention(8, 3), heads=heads), atol=1e-12)
    assert len(weights) == heads
    A(np.array(weights).sum(axis=2), 1.0, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 10), d=st.sampled_from([4, 8, 12]), heads=st.sampled_from([1, 2, 4]),
       seed=st.integers(0, 10**6))
def test_cls_output_invariant_to_patch_permutation_without_pe(n, d, heads, seed):
    x = np.random.default_rng(seed).normal(size=(n + 1, d)).tolist()
    order = seeded_permutation(n, seed)
    out = self_attention(x, seed=seed, heads=heads)
    out_p = self_attention(permute_tokens(x, order), seed=seed, heads=heads)
    assert out_p[0] == out[0]  # bit-identical: all sums are math.fsum
    # patch outputs are permuted the same way (equivariance)
    A([out_p[1 + i] for i in range(n)], [out[1 + order[i]] for i in range(n)], atol=1e-12)


def test_permutation_with_pe_changes_cls_output():
    x = np.random.default_rng(1).normal(size=(10, 8)).tolist()
    pe = sincos_2d(3, 3, 8, cls_token=True)
    order = seeded_permutation(9, 4)
    with_pe = [[a + b for a, b in zip(r, p)] for r, p in zip(x, pe)]
    shuffled = permute_tokens(x, order)
    with_pe_shuffled = [[a + b for a, b in zip(r, p)] for r, p in zip(shuffled, pe)]
    assert self_attention(with_pe, 0)[0] != self_attention(with_pe_shuffled, 0)[0]


def test_seeded_permutation_is_deterministic_permutation():
    p = seeded_permutation(50, 11)
    assert sorted(p) == list(range(50)) and p == seeded_permutation(50, 11)
    assert p != seeded_permutation(50, 12)
    assert seeded_permutation(0, 1) == []


@pytest.mark.parametrize("call, name", [
    (lambda: self_attention([[1.0] * 6] * 3, 0, heads=4), "heads"),
    (lambda: self_attention([], 0), "tokens"),
    (lambda: permute_tokens([[1.0]] * 4, [0, 1, 1]), "order"),
    (lambda: permute_tokens([[1.0]] * 4, [0, 1, 2], num_prefix_tokens=-1),
     "num_prefix_tokens"),
    (lambda: seeded_permutation(-1, 0), "n"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
