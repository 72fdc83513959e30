"""resample(): worked examples, independent references (Pillow / numpy /
scipy) on random sizes up and down, prefix handling, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import references as R
from pe_engine import axis_weights, learned, resample, sincos_2d

A = np.testing.assert_allclose
G2 = [[0.0], [1.0], [2.0], [3.0]]
G4 = [[float(v)] for v in range(16)]


@pytest.mark.parametrize("method, expected", [
    ("jax", [0, .5, 1, 1, 1.5, 2, 2, 2.5, 3]),
    ("deit", [-0.260417, 0.326389, 0.913194, 0.913194, 1.5, 2.086806, 2.086806, 2.673611,
              3.260417]),
    ("timm", [-0.197368, 0.368421, 0.934211, 0.934211, 1.5, 2.065789, 2.065789, 2.631579,
              3.197368]),
])
def test_doc_upsample_2x2_to_3x3(method, expected):
    A([r[0] for r in resample(G2, (3, 3), (2, 2), 0, method)], expected, atol=1e-6)


def test_doc_1d_weights():
    A([w for _, w in axis_weights(2, 3, "deit")[0]], [1.086806, -0.086806], atol=1e-6)
    A([w for _, w in axis_weights(2, 3, "timm")[0]], [81 / 76, -5 / 76], atol=1e-12)


@pytest.mark.parametrize("method, expected", [
    ("deit", [2.03125, 4.21875, 10.78125, 12.96875]),
    ("timm", [2.933884, 4.760331, 10.239669, 12.066116]),
])
def test_doc_downsample_4x4_to_2x2(method, expected):
    A([r[0] for r in resample(G4, (2, 2), (4, 4), 0, method)], expected, atol=1e-6)


def test_references_reproduce_doc_numbers():
    # the independent references themselves agree with the doc's torch numbers
    A(R.resample(G2, (3, 3), (2, 2), 0, "timm")[:, 0],
      [-0.197368, 0.368421, 0.934211, 0.934211, 1.5, 2.065789, 2.065789, 2.631579, 3.197368],
      atol=1e-6)
    A(R.resample(G4, (2, 2), (4, 4), 0, "timm")[:, 0], [2.933884, 4.760331, 10.239669,
                                                         12.066116], atol=1e-5)
    A(R.resample(G4, (2, 2), (4, 4), 0, "deit")[:, 0], [2.03125, 4.21875, 10.78125,
                                                         12.96875], atol=1e-9)
    A(R.resample(G2, (3, 3), (2, 2), 0, "jax")[:, 0], [0, .5, 1, 1, 1.5, 2, 2, 2.5, 3],
      atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(oh=st.integers(1, 9), ow=st.integers(1, 9), nh=st.integers(1, 13), nw=st.integers(1, 13),
       d=st.integers(1, 5), prefix=st.integers(0, 2), seed=st.integers(0, 10**6),
       method=st.sampled_from(["timm", "deit", "jax"]))
def test_matches_reference(oh, ow, nh, nw, d, prefix, seed, method):
    pe = np.random.default_rng(seed).uniform(-1, 1, size=(prefix + oh * ow, d)).tolist()
    got = np.array(resample(pe, (nh, nw), (oh, ow), prefix, method))
    assert got.shape == (prefix + nh * nw, d)
    np.testing.assert_array_equal(got[:prefix], np.array(pe)[:prefix])
    tol = 1e-5 if method == "timm" else 1e-9  # Pillow works in float32
    A(got, R.resample(pe, (nh, nw), (oh, ow), prefix, method), atol=tol)


def test_vitb_14_to_24_timm_against_pillow():
    pe = learned(197, 32, seed=3)
    A(resample(pe, 24), R.resample(pe, (24, 24), (14, 14), 1, "timm"), atol=1e-6)


@pytest.mark.parametrize("method", ["timm", "deit", "jax"])
def test_equal_size_is_identity_copy(method):
    pe = sincos_2d(3, 4, 8, cls_token=True)
    out = resample(pe, (3, 4), (3, 4), 1, method)
    assert out == pe and out is not pe and out[0] is not pe[0]
    # the interpolation weights themselves are the identity at scale 1
    assert axis_weights(5, 5, method) == [[(i, 1.0)] for i in range(5)]


def test_old_size_defaults_to_square():
    pe = learned(1 + 16, 4, seed=0)
    assert resample(pe, (2, 3)) == resample(pe, (2, 3), (4, 4), 1, "timm")


@pytest.mark.parametrize("kwargs, name", [
    (dict(new_size=(0, 3)), "new_size"),
    (dict(new_size="big"), "new_size"),
    (dict(new_size=3, old_size=(3, 4)), "old_size"),
    (dict(new_size=3, method="bilinear"), "method"),
    (dict(new_size=3, num_prefix_tokens=-1), "num_prefix_tokens"),
    (dict(new_size=3, num_prefix_tokens=17), "num_prefix_tokens"),
])
def test_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        resample(learned(17, 4, seed=0), **kwargs)


def test_non_square_without_old_size_is_an_error():
    with pytest.raises(ValueError, match="old_size"):
        resample(learned(1 + 6, 4), 4)
