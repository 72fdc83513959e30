"""What each interactive component shows, as JSON-ready dicts of numbers and figures.

One function per component. The build calls them under CPython for the first view and
embeds the result; the worker calls the same functions in Pyodide afterwards, so both
always agree. Only small previews of long vectors travel to the page: the heatmaps carry
the full tables.
"""
from . import figures
from .attention import seeded_permutation, self_attention
from .dimensions import PRESETS, vit_dimensions
from .encodings import (learned, learned_2d, relative_position_bias, rope_scores, sincos_2d,
                        sinusoidal_1d)
from .images import resize_area
from .patches import grid_shape, patchify
from .projection import embed_sequence, init_cls_token, init_projection, project
from .resample import resample
from .similarity import cosine_similarity_map, similarity_matrix

# The strategies the stepper offers: name -> (title, family). The family is what the
# stepper's radio buttons choose; "2d" has two variants.
STRATEGIES = {
    "learned": ("Learned (ViT)", "learned"),
    "sinusoidal": ("Sinusoidal", "sinusoidal"),
    "sincos2d": ("2D sin-cos (MAE)", "2d"),
    "learned2d": ("Learned row and column tables (ViT paper)", "2d"),
}
CHANNELS = 3
# Above this many multiply-adds, compute only what the selected patch needs (pure Python
# is slow): its projection and its similarity map, not every patch's.
FULL_PROJECTION_LIMIT = 2_000_000
FULL_SIMILARITY_LIMIT = 2_000_000
# The build's first view carries every strategy only while their tables are this small
# (at ViT-B/16 one table is 151k numbers): the others then come from the live engine.
EMBED_ALL_STRATEGIES_CELLS = 20_000
PREVIEW = 8  # leading entries shown of a long vector


class Inputs:
    """What a view reads besides its own options: the photograph resized to the model's
    input size (``pixels(size)``), the options of the component it needs (``needed``), and
    the bytes of its "file" options (``file(name)``; ``files`` maps option names to bytes, or
    is a function of the name)."""

    def __init__(self, pixels=None, needed=None, files=None):
        self._pixels = pixels
        self.needed = needed
        self._files = files or {}

    def pixels(self, size):
        if self._pixels is None:
            raise ValueError("no source image: call set_source first")
        return self._pixels(size)

    def file(self, name):
        data = self._files(name) if callable(self._files) else self._files.get(name)
        if data is None:
            raise ValueError(f"the file of option '{name}' has not been given to the engine")
        return data


def shown_dims(dim):
    """Which dimensions the number displays show: all of a short vector, else a preview + the last."""
    return list(range(dim)) if dim <= PREVIEW + 2 else list(range(PREVIEW)) + [dim - 1]


def _pick(vector, dims):
    return [vector[d] for d in dims]


def model_input(source_pixels, source_size, image_size):
    """The photograph (source_size² RGB, 0..255) resized to the model's input size."""
    return resize_area(source_pixels, source_size, source_size, CHANNELS, image_size, image_size)


def pe_table(strategy, grid_h, grid_w, dim, seed=0):
    """(1 + N) × D table of the strategy, [CLS] row first."""
    n = grid_h * grid_w
    if strategy == "learned":
        return learned(n + 1, dim, seed=seed)
    if strategy == "sinusoidal":
        return sinusoidal_1d(n + 1, dim)  # [CLS] takes position 0
    if strategy == "sincos2d":
        return sincos_2d(grid_h, grid_w, dim, cls_token=True)
    if strategy == "learned2d":
        return learned_2d(grid_h, grid_w, dim, seed=seed, cls_token=True)
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)} (got {strategy!r})")


_MEMO = {}


def remember(key, compute, keep=4):
    """A small LRU of the slow, reusable pieces (the projection E at ViT-B/16 alone is
    590k seeded numbers): the page asks for the same ones on every click."""
    if key in _MEMO:
        _MEMO[key] = _MEMO.pop(key)  # most recent last
    else:
        while len(_MEMO) >= keep * 4:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = compute()
    return _MEMO[key]


def tokens_part(pixels, image_size, patch, dim, seed, selected):
    """Steps 2–4 for the patches the page needs: previews of x_p, E, and the tokens x_p·E + b."""
    pixels_key = tuple(pixels)  # the whole image: a sampled key could mix up two photographs
    patches = remember(("patches", pixels_key, image_size, patch), lambda: patchify(
        [v / 255.0 for v in pixels], image_size, image_size, CHANNELS, patch))  # pixels scaled to [0, 1]
    in_dim = patch * patch * CHANNELS
    weight, bias = remember(("projection", in_dim, dim, seed), lambda: init_projection(in_dim, dim, seed))
    n = len(patches)
    if n * in_dim * dim <= FULL_PROJECTION_LIMIT:
        wanted = list(range(n))
    else:
        wanted = [selected]
    key = ("tokens", pixels_key, image_size, patch, dim, seed, tuple(wanted))
    tokens = remember(key, lambda: project([patches[k] for k in wanted], weight, bias))
    dims = shown_dims(dim)
    head = min(4, in_dim)
    return {
        "patch_len": in_dim,
        "x_preview": {str(k): patches[k][:head] + [patches[k][-1]] for k in wanted},
        "E_preview": [_pick(weight[r], dims) for r in range(head)] + [_pick(weight[-1], dims)],
        "bias": _pick(bias, dims),
        "tokens_full": dict(zip(wanted, tokens)),
    }


def vit_stepper(inputs, image_size, patch, dim, strategy, seed, selected, heatmap=True, all_strategies=False):
    """The ``vit-stepper`` component: stepper_view for the strategy shown (every strategy for
    the build's first view, while their tables are small)."""
    strategies = (strategy,)
    if all_strategies and (image_size // patch) ** 2 * dim <= EMBED_ALL_STRATEGIES_CELLS:
        strategies = tuple(STRATEGIES)
    view = stepper_view(inputs.pixels(image_size), image_size, patch, dim, seed, strategies, selected, heatmap)
    if all_strategies:  # the build's first view: the technical details and the presets too
        view["vit_base"] = dimensions_view(224, 16, 768)
        view["presets"] = PRESETS
    return view


def stepper_view(pixels, image_size, patch, dim, seed=0, strategies=tuple(STRATEGIES), selected=5,
                 heatmap=True):
    """Everything the five steps and the heatmaps show, for the given strategies.

    Per-patch entries are keyed by the patch index as a string (JSON object keys).

    ``pixels`` is the model input (image_size² RGB, 0..255). Selected patch ``selected``
    is highlighted in the figures; previews cover every patch when the configuration is
    small, else only the selected one.
    """
    grid = grid_shape(image_size, image_size, patch)
    n = grid.rows * grid.cols
    selected = selected if 0 <= selected < n else 0
    dims = shown_dims(dim)
    part = tokens_part(pixels, image_size, patch, dim, seed, selected)
    cls = init_cls_token(dim, seed + 1)
    tokens_full = part.pop("tokens_full")
    view = {
        "config": {"image_size": image_size, "patch": patch, "dim": dim, "seed": seed, "selected": selected},
        "dims": vit_dimensions(image_size, patch, dim, CHANNELS),
        "grid": {"rows": grid.rows, "cols": grid.cols},
        "shown_dims": dims,
        "cls": _pick(cls, dims),
        "tokens": {str(k): _pick(t, dims) for k, t in tokens_full.items()},
        "strategies": {},
        **part,
    }
    for strategy in strategies:
        view["strategies"][strategy] = strategy_part(strategy, grid.rows, grid.cols, dim, seed,
                                                     selected, cls, tokens_full, dims, heatmap)
    return view


def strategy_part(strategy, grid_h, grid_w, dim, seed, selected, cls, tokens_full, dims, heatmap=True):
    table = cached_pe_table(strategy, grid_h, grid_w, dim, seed)
    n = grid_h * grid_w
    z0 = {}
    for k, token in tokens_full.items():
        # z0 row k+1 = token k + E_pos[k+1]; embed_sequence does the whole addition.
        row = embed_sequence([token], cls, [table[0], table[k + 1]])[1]
        z0[str(k)] = _pick(row, dims)
    if n * n * dim <= FULL_SIMILARITY_LIMIT:
        sims = similarity_matrix(table[1:])
        maps = {str(k): [row[r * grid_w:(r + 1) * grid_w] for r in range(grid_h)] for k, row in enumerate(sims)}
    else:
        maps = {str(selected): cosine_similarity_map(table, grid_h, grid_w, selected, num_prefix_tokens=1)}
    title = STRATEGIES[strategy][0]
    return {
        "title": title,
        "pe": [_pick(row, dims) for row in table],
        "z0": z0,
        "similarity": maps,
        # each map's colour range (a figure per patch is made on the page from this one)
        "similarity_range": {k: list(figures.similarity_range(m)) for k, m in maps.items()},
        "figures": {
            "heatmap": figures.pe_heatmap(table, f"{title}: {n + 1} positions × {dim} dimensions", selected + 1)
            if heatmap else None,
            "similarity": figures.similarity_map(maps[str(selected)], selected,
                                                 f"Position similarity to patch {selected}"),
            "tiles": figures.similarity_tiles([maps[str(k)] for k in range(n)], grid_h, grid_w)
            if len(maps) == n else None,
        },
    }


def cached_pe_table(strategy, grid_h, grid_w, dim, seed=0):
    """pe_table, remembered: the page asks for the same table again on every patch change."""
    return remember(("table", strategy, grid_h, grid_w, dim, seed),
                    lambda: pe_table(strategy, grid_h, grid_w, dim, seed))


def dimensions_view(image_size, patch, dim):
    return vit_dimensions(image_size, patch, dim, CHANNELS)


def presets_view():
    return PRESETS


METHOD_NAMES = {"timm": "timm", "deit": "DeiT", "jax": "JAX"}


def channel_picture(table, grid, channel, num_prefix=1):
    """One channel of a PE table's patch rows, laid out as the grid × grid picture it is
    resampled as."""
    values = [row[channel] for row in table[num_prefix:]]
    return [values[r * grid:(r + 1) * grid] for r in range(grid)]


def resolution_change(inputs, from_grid, to_grid, dim, method="timm", channel=0, seed=0):
    """A learned table resampled from G×G to G′×G′ by the chosen method, beside fixed tables
    recomputed for G′: the tables, one channel as a picture before and after, the other
    methods' difference from JAX's on one scale, and the similarity to the centre patch."""
    old = learned(from_grid * from_grid + 1, dim, seed=seed)
    by_method = {m: resample(old, (to_grid, to_grid), (from_grid, from_grid), num_prefix_tokens=1, method=m)
                 for m in METHOD_NAMES}
    new = by_method[method]
    centre = (to_grid // 2) * to_grid + to_grid // 2
    g, g2, c = from_grid, to_grid, channel
    figs = {}
    table_scale = figures.symmetric_range(old, new)
    figs["learned_old"] = figures.pe_heatmap(old, f"Learned table, trained on {g}×{g}", scale=table_scale)
    figs["learned_new"] = figures.pe_heatmap(new, f"Resampled to {g2}×{g2} ({METHOD_NAMES[method]})", scale=table_scale)
    before, after = channel_picture(old, g, c), channel_picture(new, g2, c)
    pictures = figures.symmetric_range(before, *(channel_picture(t, g2, c) for t in by_method.values()))
    figs["channel_old"] = figures.matrix_heatmap(before, f"Channel {c} on the {g}×{g} grid", "column", "row",
                                                 scale=pictures, value=f"channel {c}")
    figs["channel_new"] = figures.matrix_heatmap(after, f"Channel {c} resampled to {g2}×{g2} ({METHOD_NAMES[method]})",
                                                 "column", "row", scale=pictures, value=f"channel {c}")
    jax = channel_picture(by_method["jax"], g2, c)
    diffs = {m: [[a - b for a, b in zip(ra, rb)] for ra, rb in zip(channel_picture(by_method[m], g2, c), jax)]
             for m in ("timm", "deit")}
    diff_scale = figures.symmetric_range(*diffs.values())
    for m, diff in diffs.items():
        figs[f"difference_{m}"] = figures.matrix_heatmap(
            diff, f"{METHOD_NAMES[m]} minus JAX, channel {c}", "column", "row", scale=diff_scale, value="difference")
    tables = {"learned": new, "sinusoidal": sinusoidal_1d(g2 * g2 + 1, dim),
              "sincos2d": sincos_2d(g2, g2, dim, cls_token=True)}
    maps = {name: cosine_similarity_map(t, g2, g2, centre, num_prefix_tokens=1) for name, t in tables.items()}
    sim_scale = figures.similarity_range(*maps.values())
    labels = {"learned": f"resampled learned ({METHOD_NAMES[method]})", "sinusoidal": "1-D sinusoidal",
              "sincos2d": "2D sin-cos"}
    for name, grid_map in maps.items():
        figs[f"similarity_{name}"] = figures.similarity_map(grid_map, centre, f"Similarity, {labels[name]}",
                                                            scale=sim_scale)
    figs["sinusoidal_new"] = figures.pe_heatmap(tables["sinusoidal"], f"Sinusoidal, recomputed for {g2}×{g2}")
    figs["sincos2d_new"] = figures.pe_heatmap(tables["sincos2d"], f"2D sin-cos, recomputed for {g2}×{g2}")
    return {"config": {"from_grid": g, "to_grid": g2, "dim": dim, "method": method, "channel": c, "seed": seed},
            "corner": {m: by_method[m][1][c] for m in METHOD_NAMES},
            "figures": figs}


PERMUTATION_SHARPNESS = 8.0


def permutation_demo(inputs, seed=0, shuffle_seed=1):
    """The ``permutation-demo`` component, on the patches of the stepper it needs."""
    s = inputs.needed
    view = permutation_view(inputs.pixels(s["image_size"]), s["image_size"], s["patch"], s["dim"], s["seed"],
                            shuffle_seed)
    view["stepper"] = {k: s[k] for k in ("image_size", "patch", "dim", "seed")}
    return view


def permutation_view(pixels, image_size, patch, dim, seed=0, shuffle_seed=1, strategy="sinusoidal"):
    """[CLS] output of one seeded attention layer before and after shuffling the patches.

    The layer's logits are sharpened (see self_attention) so that, as in a trained model,
    it does not attend uniformly; the sinusoidal table is the default PE because its unit
    amplitude shows the effect plainly (an untrained learned table has std 0.02)."""
    grid = grid_shape(image_size, image_size, patch)
    values = [v / 255.0 for v in pixels]
    in_dim = patch * patch * CHANNELS
    weight, bias = init_projection(in_dim, dim, seed)
    tokens = project(patchify(values, image_size, image_size, CHANNELS, patch), weight, bias)
    cls = init_cls_token(dim, seed + 1)
    n = len(tokens)
    order = seeded_permutation(n, shuffle_seed)
    table = pe_table(strategy, grid.rows, grid.cols, dim, seed)
    zero = [[0.0] * dim for _ in range(n + 1)]
    out = {"config": {"seed": seed, "shuffle_seed": shuffle_seed, "strategy": strategy}, "order": order}
    for label, pe in (("without_pe", zero), ("with_pe", table)):
        # PE is attached to the *position*, so shuffling moves content but not the PE rows.
        seq = embed_sequence(tokens, cls, pe)
        shuffled = embed_sequence([tokens[i] for i in order], cls, pe)
        before = self_attention(seq, seed, heads=1, sharpness=PERMUTATION_SHARPNESS)[0]
        after = self_attention(shuffled, seed, heads=1, sharpness=PERMUTATION_SHARPNESS)[0]
        diff = max(abs(a - b) for a, b in zip(before, after))
        out[label] = {"cls_before": before, "cls_after": after, "max_diff": diff,
                      "figure": figures.bar_compare(before, after, "original order", "shuffled",
                                                    "[CLS] output of one attention layer")}
    return out


def relative_bias(inputs, window, seed=0):
    """Swin: relative position index and the gathered bias for one window (head 0)."""
    rpb = relative_position_bias(window, window, heads=1, seed=seed)
    index, table, bias = rpb.index, rpb.table, rpb.bias
    n = window * window
    return {
        "config": {"window": window, "seed": seed},
        "table_rows": len(table),
        "figures": {
            "index": figures.index_heatmap(index, f"Table entry read by each pair, {window}×{window} window",
                                           len(table)),
            "bias": figures.matrix_heatmap(bias[0], "Bias added to each pair's logit (head 0)",
                                           "key token", "query token", value="bias"),
        },
    }


def rope_shift(inputs, grid, dim, base=100.0, seed=0):
    """2D RoPE (rope-vit axial): q·k for one fixed q and k placed at every position."""
    import random

    rng = random.Random(seed)
    q = [rng.uniform(-1, 1) for _ in range(dim)]
    k = [rng.uniform(-1, 1) for _ in range(dim)]
    scores = rope_scores(q, k, grid, grid, base)
    n = grid * grid
    by_offset = {}
    for i in range(n):
        for j in range(n):
            off = (i // grid - j // grid, i % grid - j % grid)
            by_offset.setdefault(off, []).append(scores[i][j])
    spread = max(max(v) - min(v) for v in by_offset.values())
    offsets = sorted(by_offset)
    return {
        "config": {"grid": grid, "dim": dim, "base": base, "seed": seed},
        "max_spread": spread,
        "num_offsets": len(offsets),
        "figures": {
            "scores": figures.matrix_heatmap(scores, f"q·k with 2D RoPE, {grid}×{grid} grid",
                                             "key token", "query token", value="q·k"),
            "offsets": figures.matrix_heatmap(
                [[by_offset[(dr, dc)][0] if (dr, dc) in by_offset else None
                  for dc in range(-(grid - 1), grid)] for dr in range(-(grid - 1), grid)],
                "q·k by offset (Δrow, Δcolumn): one value each", "Δcolumn", "Δrow", value="q·k",
                x=list(range(-(grid - 1), grid)), y=list(range(-(grid - 1), grid))),
        },
    }
