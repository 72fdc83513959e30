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
from .resample import METHOD_NAMES, resample
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
        base = PRESETS["ViT-B/16"]
        view["vit_base"] = dimensions_view(base["image_size"], base["patch"], base["dim"])
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


def permutation_demo(inputs, shuffle_seed=1):
    """The ``permutation-demo`` component, on the patches (and the seed) of the stepper it needs."""
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


# --------------------------------------------------------------------------- the trained digit ViT

# The configurations ``make train`` trains (tests/vit/train.py), as the weights file names them.
VIT_MODELS = {
    "learned": "(a) learned",
    "none": "(b) no positional embedding",
    "sincos": "(c) 2D sin-cos, fixed",
    "learned_shift": "(d) learned, trained on shifted digits",
}
# The tables whose position similarity the component compares: key -> (figure label, model).
SIMILARITY_TABLES = {
    "untrained": ("Untrained positional embedding: position similarity", "learned"),
    "learned": ("Trained positional embedding: position similarity", "learned"),
    "sincos": ("2D sin-cos positional embedding: position similarity", "sincos"),
    "learned_shift": ("Positional embedding trained on shifted digits: position similarity", "learned_shift"),
}
SIMILARITY_TITLES = {"untrained": "(a) before training", "learned": "(a) after training",
                     "sincos": "(c) 2D sin-cos (a formula)", "learned_shift": "(d) after training on shifted digits"}
SIMILARITY_HEIGHT = 420
FAR = 3  # "far apart": max(|Δrow|, |Δcolumn|) ≥ FAR, as the record measures it
CANVAS = 32  # a drawing arrives as CANVAS × CANVAS grey values, as load_digits' bitmaps were

_VITS = {}


def _vit_entry(data):
    """The weights file loaded once per content (the models keep their folded tables), with
    a cache for what the page asks again: upsampled test images, resampled tables."""
    import hashlib

    from . import vit

    key = hashlib.sha256(bytes(data)).hexdigest()
    if key not in _VITS:
        while len(_VITS) >= 2:
            _VITS.pop(next(iter(_VITS)))
        try:
            bundle = vit.load(data)
        except ValueError:
            raise
        except Exception as exc:  # a damaged or foreign file: struct, key or type errors
            raise ValueError(f"the weights file could not be read ({type(exc).__name__}: {exc})") from None
        if sorted(bundle["models"]) != sorted(VIT_MODELS) or not bundle["test_images"]:
            raise ValueError(f"the weights file must hold the models {', '.join(VIT_MODELS)} and a test split")
        _VITS[key] = {"bundle": bundle, "big": {}, "tables": {}, "sha256": key}
    return _VITS[key]


def _vit_record(data):
    import json

    from . import vit

    try:
        record = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the training record is not a JSON file") from None
    if not isinstance(record, dict) or record.get("format") != vit.FORMAT:
        raise ValueError(f"the training record is not a {vit.FORMAT} record")
    return record


def _resampled(entry, model, grid, method):
    """A fixed table resampled like a learned one (one list per grid and method, so the
    model's folded attention for it is built once)."""
    key = (model.name, grid, method)
    if key not in entry["tables"]:
        entry["tables"][key] = resample(model.pos, (grid, grid), model.grid, 1, method)
    return entry["tables"][key]


def _upsampled(entry, index, grid):
    """Test image ``index`` upsampled to grid × grid (the record's resolution protocol)."""
    from . import vit

    big = entry["big"]
    if big.get("grid") != grid:
        big.clear()
        big["grid"] = grid
    if index not in big:
        big[index] = vit.upsample(entry["bundle"]["test_images"][index], entry["bundle"]["image_size"], grid)
    return big[index]


def _mean_heads(layer):
    """[head] -> rows x cols maps, averaged over the heads."""
    heads = len(layer)
    return [[sum(h[r][c] for h in layer) / heads for c in range(len(layer[0][0]))] for r in range(len(layer[0]))]


def _rows(flat, side):
    return [list(flat[r * side:(r + 1) * side]) for r in range(side)]


def vit_similarity(entry, record):
    """The position-similarity small multiples of four tables and the neighbour-versus-far
    measure of each (engine ``neighbour_far_similarity``), blank slots from the record."""
    from . import vit

    models = entry["bundle"]["models"]
    first = models["learned"]
    gh, gw = first.grid
    blank = set(record["similarity"]["blank_slots"])
    tables = {"untrained": learned(gh * gw + 1, first.dim, seed=record["seed"]),
              "learned": models["learned"].pos, "sincos": models["sincos"].pos,
              "learned_shift": models["learned_shift"].pos}
    maps = {}
    for key, table in tables.items():
        sims = similarity_matrix(table[1:])
        maps[key] = [[row[r * gw:(r + 1) * gw] for r in range(gh)] for row in sims]
    out = {}
    for key, table in tables.items():
        label, model = SIMILARITY_TABLES[key]
        figure = figures.similarity_tiles(maps[key], gh, gw, SIMILARITY_TITLES[key])  # each fitted to its range
        figure["layout"]["height"] = SIMILARITY_HEIGHT
        out[key] = {"label": label, "model": model, "title": SIMILARITY_TITLES[key],
                    "stats": vit.neighbour_far_similarity(table, (gh, gw), far=FAR, blank=blank), "figure": figure}
    return {"grid": [gh, gw], "far": FAR, "blank_slots": sorted(blank), "tables": out}


def vit_digit(entry, digit=0, drawing=None, mode="plain", shuffle_seed=0, grid=16, method="timm"):
    """One digit (test image ``digit``, or a drawing) through every model: the input the
    models see (its figure), and per model the class probabilities, the prediction and the
    [CLS] attention over the patches (mean of the heads of the last block; its figure's z)."""
    from . import vit

    bundle = entry["bundle"]
    h, w = bundle["image_size"]
    if drawing is not None:
        pixels, label, index = vit.from_canvas(drawing, CANVAS, CANVAS, h), None, None
    else:
        if not 0 <= digit < len(bundle["test_images"]):
            raise ValueError(f"test digit {digit} does not exist: the test set has {len(bundle['test_images'])} "
                             f"(0 to {len(bundle['test_images']) - 1})")
        pixels, label, index = [float(v) for v in bundle["test_images"][digit]], bundle["test_labels"][digit], digit
    order, size, shown = None, h, pixels
    if mode == "shuffled":
        order = seeded_permutation(h * w, shuffle_seed)
        shown = [pixels[i] for i in order]
    elif mode == "resized":
        size = grid
        shown = vit.upsample(pixels, (h, w), grid) if drawing is not None or index is None \
            else _upsampled(entry, index, grid)
    results = {}
    for name, model in bundle["models"].items():
        if mode == "shuffled":
            out = vit.forward(model, pixels, order=order)
        elif mode == "resized":
            out = vit.forward(model, shown, size=grid, method=method)
        else:
            out = vit.forward(model, pixels)
        results[name] = {"label": VIT_MODELS[name], "prediction": out["prediction"], "probs": out["probs"],
                         "_attention": _mean_heads(out["attention"][-1]),
                         "attention_cls": sum(out["attention_cls"][-1]) / len(out["attention_cls"][-1])}
        if mode == "resized" and model.pe == "sincos":
            other = vit.forward(model, shown, size=grid, pos=_resampled(entry, model, grid, method))
            results[name]["resampled"] = {"prediction": other["prediction"], "probs": other["probs"]}
    peak = max(v for r in results.values() for row in r["_attention"] for v in row)
    for name, r in results.items():  # the maps share one scale; each figure's z is its map
        r["figure"] = figures.attention_map(r.pop("_attention"), f"{VIT_MODELS[name].split(' ')[0]} [CLS] attention",
                                            scale=(0.0, peak))
    what = {"plain": f"{h}×{w} patches", "shuffled": "patches shuffled", "resized": f"upsampled to {size}×{size}"}[mode]
    return {
        "input": {"index": index, "label": label, "drawn": drawing is not None, "mode": mode, "size": size,
                  "order": order, "shuffle_seed": shuffle_seed if mode == "shuffled" else None,
                  "original": _rows(pixels, w),
                  "grid": grid, "method": method,
                  # what the models see is the figure's z; "original" the digit before shuffling or resizing
                  "figure": figures.digit_image(_rows(shown, size), f"What the models see: {what}",
                                                bundle["models"]["learned"].pixel_max)},
        "results": results,
    }


def vit_accuracy(entry, model, test="plain", shuffle_seed=0, grid=16, method="timm", recompute=True, start=0,
                 count=360):
    """Correct predictions of one model on test images start … start + count − 1: as they
    are, with each image's patches shuffled (image i by seeded_permutation(N, seed + i), as
    the record's ``shuffle_orders``), or upsampled to grid × grid (learned tables resampled by
    ``method``; the sin-cos table recomputed, or resampled if not ``recompute``)."""
    from . import vit

    bundle = entry["bundle"]
    m = bundle["models"][model]
    images, labels = bundle["test_images"], bundle["test_labels"]
    stop = min(len(images), start + count)
    if start >= len(images):
        raise ValueError(f"start {start} is past the test set ({len(images)} images)")
    n = m.grid[0] * m.grid[1]
    preds = []
    for i in range(start, stop):
        if test == "shuffled":
            preds.append(vit.predict(m, images[i], order=seeded_permutation(n, shuffle_seed + i)))
        elif test == "resized":
            pos = _resampled(entry, m, grid, method) if m.pe == "sincos" and not recompute else None
            preds.append(vit.predict(m, _upsampled(entry, i, grid), size=grid, method=method, pos=pos))
        else:
            preds.append(vit.predict(m, images[i]))
    correct = sum(1 for p, y in zip(preds, labels[start:stop]) if p == y)
    variant = ("recomputed" if recompute else method) if m.pe == "sincos" else "unchanged" if m.pe == "none" \
        else method
    return {"model": model, "test": test, "variant": variant if test == "resized" else None,
            "shuffle_seed": shuffle_seed if test == "shuffled" else None, "grid": grid if test == "resized" else None,
            "start": start, "count": stop - start, "correct": correct, "total_images": len(images),
            "predictions": preds}


def vit_recorded_accuracy(record):
    """The whole-test-set accuracies of the training record (``make train``), per model:
    plain, shuffled (with the record's seed) and per grid, per resampling variant. The test
    suite recomputes every one with this engine (tests/test_vit.py, tests/test_trained_vit.py)."""
    out = {"total": record["data"]["test"], "shuffle_seed": None, "models": {}}
    for name in VIT_MODELS:
        c = record["configs"][name]
        out["shuffle_seed"] = c["shuffled"]["seed"]
        out["models"][name] = {
            "plain": c["test_correct"],
            "shuffled": c["shuffled"]["correct"],
            "resized": {key.split("x")[0]: {variant: r["correct"] for variant, r in variants.items()}
                        for key, variants in c["resolution"].items()},
        }
    return out


def trained_vit(inputs, digit=0, grid=16, method="timm", part="all", drawing=None, input="plain", shuffle_seed=0,
                model="learned", test="plain", recompute=True, start=0, count=360):
    """The ``trained-vit`` component. ``part``: "all" (the build's first view: the
    similarity measures, with the figures for the template only, the test digit through
    every model and the record's accuracies), "similarity", "digit" or "accuracy"."""
    entry = _vit_entry(inputs.file("weights"))
    bundle = entry["bundle"]
    first = bundle["models"]["learned"]
    config = {"digit": digit, "grid": grid, "method": method, "test_size": len(bundle["test_images"]),
              "image_size": list(bundle["image_size"]), "models": VIT_MODELS, "weights_sha256": entry["sha256"],
              "model": {"grid": list(first.grid), "patch": first.patch, "dim": first.dim, "heads": first.heads,
                        "depth": first.depth, "mlp": first.mlp, "classes": first.classes}}
    if part == "accuracy":
        return {"config": config, "accuracy": vit_accuracy(entry, model, test, shuffle_seed, grid, method, recompute,
                                                           start, count)}
    if part == "digit":
        return {"config": config, "digit": vit_digit(entry, digit, drawing, input, shuffle_seed, grid, method)}
    record = _vit_record(inputs.file("record"))
    try:
        similarity = vit_similarity(entry, record)
        accuracy = vit_recorded_accuracy(record) if part == "all" else None
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"the training record has no {exc} where this component looks for it") from None
    if part == "similarity":
        return {"config": config, "similarity": similarity}
    figs = {f"similarity_{key}": t.pop("figure") for key, t in similarity["tables"].items()}
    return {"config": config, "similarity": similarity, "_figures": figs,
            "digit": vit_digit(entry, digit, drawing, input, shuffle_seed, grid, method), "accuracy": accuracy}
