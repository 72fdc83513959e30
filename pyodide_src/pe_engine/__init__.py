"""pe_engine: positional embeddings for Vision Transformers, in pure Python.

Standard library only (runs in Pyodide and CPython).  Matrices are lists of
rows of floats; prefix ([CLS]) rows come first.  Seeded values derive from
random.Random(seed).random() through arithmetic-only samplers, so a seed
gives bit-identical numbers in CPython 3.11 and Pyodide's Python 3.14.
"""

from ._random import seeded_permutation
from .attention import init_attention, permute_tokens, self_attention
from .dimensions import PRESETS, vit_dimensions, vit_param_count
from .encodings import (
    RelativePositionBias,
    learned,
    learned_2d,
    relative_position_bias,
    relative_position_index,
    rope_2d_axial,
    rope_frequencies,
    rope_scores,
    sincos_2d,
    sinusoidal_1d,
)
from .patches import GridShape, Patches, grid_shape, patchify
from .projection import embed_sequence, init_cls_token, init_projection, project
from .resample import METHODS as RESAMPLE_METHODS
from .resample import axis_weights, resample
from .similarity import cosine_similarity_map, similarity_matrix

__all__ = [
    "GridShape", "Patches", "grid_shape", "patchify",
    "init_projection", "project", "init_cls_token", "embed_sequence",
    "sinusoidal_1d", "sincos_2d", "learned", "learned_2d",
    "rope_frequencies", "rope_2d_axial", "rope_scores",
    "relative_position_index", "relative_position_bias", "RelativePositionBias",
    "resample", "axis_weights", "RESAMPLE_METHODS",
    "cosine_similarity_map", "similarity_matrix",
    "init_attention", "self_attention", "permute_tokens", "seeded_permutation",
    "vit_dimensions", "vit_param_count", "PRESETS",
]

try:  # written into the browser's archive by build.py: the hash of these sources
    from ._build import BUILD as __build__
except ImportError:
    __build__ = "source"
