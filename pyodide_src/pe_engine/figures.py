"""Plotly figure dicts: the one definition of every figure on the page.

Built under CPython at build time (first view) and in the Pyodide worker afterwards; the
page draws them unchanged (with Plotly, or its canvas stand-in) after giving them the
page's theme colours. Plain dicts and lists only, theme-neutral: no text or line colour is
set here. The tests validate every figure with ``plotly.graph_objects.Figure(spec)``.

Titles are plain words (no LaTeX-style underscores). Every colour bar has a title; a scale
is fitted to what its figure shows, and the figures of one comparison share one scale
(``scale=`` arguments). The range a figure's colours span is in ``layout.meta.range``, so a
caption can say it.
"""

# Colour-vision-friendly maps: a diverging map for signed values, cividis for similarity,
# viridis for indices (stepped: one flat colour per index).
DIVERGING = "RdBu"
SEQUENTIAL = "Cividis"
SELECTION_NAME = "selection"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}
VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
           "#fde725"]


def _layout(title, xaxis, yaxis, height, **extra):
    layout = {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "xaxis": xaxis,
        "yaxis": yaxis,
        "height": height,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "font": FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    layout.update(extra)
    return layout


def _colorbar(title):
    return {"thickness": 10, "len": 0.9, "title": {"text": title, "side": "right"}}


def _span(values):
    vals = [v for v in values if v is not None]
    return (min(vals), max(vals)) if vals else (0.0, 1.0)


def value_range(*matrices):
    """(low, high) over every cell of the matrices: a scale the figures can share."""
    return _span(v for m in matrices for row in m for v in row)


def symmetric_range(*matrices):
    """(−peak, peak) for signed values, peak the largest magnitude (never 0)."""
    low, high = value_range(*matrices)
    peak = max(abs(low), abs(high)) or 1.0
    return (-peak, peak)


def similarity_range(*maps):
    """A cosine-similarity scale fitted to the maps: their lowest value up to 1 (the patch
    itself), so that a table whose values all lie in 0.67–1.00 does not look flat."""
    low, _ = value_range(*maps)
    low = min(low, 0.999)
    return (low, 1.0)


def _selection_row(row, width):
    """A rectangle around one heatmap row; the page moves it when the patch changes."""
    return {"type": "rect", "name": SELECTION_NAME, "xref": "x", "yref": "y",
            "x0": -0.5, "x1": width - 0.5, "y0": row - 0.5, "y1": row + 0.5,
            "line": {"width": 3}, "fillcolor": "rgba(0,0,0,0)"}


def cell_outline(row, col, name=SELECTION_NAME):
    """A rectangle around one cell of a heatmap drawn on integer axes."""
    return {"type": "rect", "name": name, "xref": "x", "yref": "y",
            "x0": col - 0.5, "x1": col + 0.5, "y0": row - 0.5, "y1": row + 0.5,
            "line": {"width": 3 if name == SELECTION_NAME else 2}, "fillcolor": "rgba(0,0,0,0)"}


def position_labels(num_prefix, num_positions):
    return ["CLS"] * num_prefix + [str(k) for k in range(num_positions)]


def pe_heatmap(table, title, selected_row=None, num_prefix=1, scale=None):
    """Positions × dimensions heatmap of a PE table ((prefix + N) × D).

    Rows are labelled by position name ("CLS", "0", "1", …) on a category axis, so the
    hover reads "position CLS" without a per-cell label array. ``scale``: a shared (low,
    high); by default symmetric about 0 from the table's largest magnitude.
    """
    rows, dim = len(table), len(table[0]) if table else 0
    labels = position_labels(num_prefix, rows - num_prefix)
    low, high = scale or symmetric_range(table)
    return {
        "data": [{
            "type": "heatmap", "z": table, "y": labels, "x": list(range(dim)),
            "colorscale": DIVERGING, "reversescale": True, "zmid": 0.0, "zmin": low, "zmax": high,
            "hovertemplate": "position %{y}<br>dimension %{x}<br>value %{z:.4f}<extra></extra>",
            "colorbar": _colorbar("value"),
        }],
        "layout": _layout(
            title,
            {"title": {"text": "dimension"}, "zeroline": False, "showgrid": False},
            {"title": {"text": "position"}, "type": "category", "autorange": "reversed",
             "zeroline": False, "showgrid": False},
            height=max(240, min(480, 60 + 13 * rows)),
            shapes=[_selection_row(selected_row, dim)] if selected_row is not None else [],
            meta={"range": [low, high]},
        ),
    }


def similarity_map(grid_map, index, title="Position similarity", scale=None):
    """Grid heatmap of cosine similarity between patch ``index`` and every patch.
    ``scale``: a shared (low, high); by default fitted to this map (see similarity_range)."""
    gw = len(grid_map[0])
    low, high = scale or similarity_range(grid_map)
    return {
        "data": [{
            "type": "heatmap", "z": grid_map, "colorscale": SEQUENTIAL, "zmin": low, "zmax": high,
            "hovertemplate": "patch in row %{y}, column %{x}<br>cosine similarity %{z:.3f}<extra></extra>",
            "colorbar": _colorbar("cosine similarity"),
        }],
        "layout": _layout(
            title,
            {"title": {"text": "column"}, "constrain": "domain", "showgrid": False, "zeroline": False, "dtick": 1},
            {"title": {"text": "row"}, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain",
             "showgrid": False, "zeroline": False, "dtick": 1},
            height=300,
            shapes=[cell_outline(index // gw, index % gw)],
            meta={"range": [low, high]},
        ),
    }


def similarity_tiles(maps, grid_h, grid_w, title="Similarity of every patch to every other"):
    """Small multiples as in ViT Fig. 7: tile (r, c) shows patch (r, c)'s similarity map.

    Drawn as one heatmap with a blank (None) gutter between tiles: one trace for the
    browser to draw instead of grid_h × grid_w subplots. The tiles share one scale and one
    colour bar; the axes label each tile by its patch's row and column.
    """
    gap = 1
    height = grid_h * (grid_h + gap) - gap
    width = grid_w * (grid_w + gap) - gap
    z = [[None] * width for _ in range(height)]
    for k, grid_map in enumerate(maps):
        top, left = (k // grid_w) * (grid_h + gap), (k % grid_w) * (grid_w + gap)
        for r in range(grid_h):
            z[top + r][left:left + grid_w] = grid_map[r]
    low, high = similarity_range(*maps)
    centres = lambda n, size: [i * (size + gap) + (size - 1) / 2 for i in range(n)]
    return {
        "data": [{"type": "heatmap", "z": z, "colorscale": SEQUENTIAL, "zmin": low, "zmax": high,
                  "hoverongaps": False, "hovertemplate": "cosine similarity %{z:.3f}<extra></extra>",
                  "colorbar": _colorbar("cosine similarity")}],
        "layout": _layout(
            title,
            {"title": {"text": "column of the patch"}, "constrain": "domain", "showgrid": False, "zeroline": False,
             "tickvals": centres(grid_w, grid_w), "ticktext": [str(c) for c in range(grid_w)]},
            {"title": {"text": "row of the patch"}, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain",
             "showgrid": False, "zeroline": False, "tickvals": centres(grid_h, grid_h), "ticktext": [str(r) for r in range(grid_h)]},
            height=360, meta={"range": [low, high]},
        ),
    }


def matrix_heatmap(z, title, x_title, y_title, colorscale=DIVERGING, zmid=0.0, height=300,
                   hover="%{z:.4f}", x=None, y=None, value="value", scale=None, shapes=None):
    """A generic labelled heatmap (resampled channels, attention biases, RoPE scores).
    ``value`` names the numbers (the colour bar's title and the hover's)."""
    low, high = scale or (symmetric_range(z) if zmid is not None else value_range(z))
    trace = {"type": "heatmap", "z": z, "colorscale": colorscale, "zmin": low, "zmax": high,
             "hovertemplate": f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{value} {hover}<extra></extra>",
             "colorbar": _colorbar(value)}
    if zmid is not None:
        trace["zmid"] = zmid
        trace["reversescale"] = colorscale == DIVERGING
    if x is not None:
        trace["x"] = x
    if y is not None:
        trace["y"] = y
    return {
        "data": [trace],
        "layout": _layout(title, {"title": {"text": x_title}, "showgrid": False, "zeroline": False},
                          {"title": {"text": y_title}, "autorange": "reversed", "showgrid": False,
                           "zeroline": False}, height=height, shapes=shapes or [], meta={"range": [low, high]}),
    }


def stepped_scale(count, colours=VIRIDIS):
    """A colour scale with one flat colour per integer 0..count−1 (a discrete scale for
    indices: equal indices get exactly the same colour, neighbouring ones distinct ones)."""
    stops = []
    for i in range(count):
        colour = colours[round(i * (len(colours) - 1) / max(1, count - 1))]
        stops += [[i / count, colour], [(i + 1) / count, colour]]
    return stops


def index_heatmap(index, title, count, shapes=None):
    """Swin's relative position index: integers 0..count−1 on a stepped scale."""
    fig = matrix_heatmap(index, title, "key token", "query token", colorscale=stepped_scale(count), zmid=None,
                         hover="%{z:d}", value="table entry", scale=(-0.5, count - 0.5), shapes=shapes)
    fig["data"][0]["colorbar"]["tickvals"] = list(range(0, count, max(1, count // 6)))
    return fig


def bar_compare(a, b, label_a, label_b, title):
    """Two vectors side by side (e.g. the [CLS] output before and after shuffling)."""
    xs = list(range(len(a)))
    return {
        "data": [
            {"type": "bar", "x": xs, "y": a, "name": label_a, "marker": {"color": "#3b6fb6"}},
            {"type": "bar", "x": xs, "y": b, "name": label_b, "marker": {"color": "#c27400"}},
        ],
        "layout": _layout(title, {"title": {"text": "dimension"}}, {"title": {"text": "value"}},
                          height=260, barmode="group",
                          legend={"orientation": "h", "y": -0.3}),
    }


# Ink on paper: 0 (no ink) white, the data's maximum near black, in either theme.
INK = [[0.0, "#ffffff"], [1.0, "#111111"]]


def _grid_axes(rows, cols):
    """Square cells on integer axes, exactly the grid (row 0 at the top)."""
    step = 1 if max(rows, cols) <= 12 else 2 if max(rows, cols) <= 24 else 4
    x = {"title": {"text": "column"}, "range": [-0.5, cols - 0.5], "constrain": "domain", "showgrid": False,
         "zeroline": False, "dtick": step}
    y = {"title": {"text": "row"}, "range": [rows - 0.5, -0.5], "scaleanchor": "x", "constrain": "domain",
         "showgrid": False, "zeroline": False, "dtick": step}
    return x, y


def digit_image(rows, title, pixel_max=16.0, height=260):
    """A grey image (e.g. an 8×8 digit on 0..16) as the model's input: one cell per patch."""
    x, y = _grid_axes(len(rows), len(rows[0]))
    return {
        "data": [{"type": "heatmap", "z": rows, "colorscale": INK, "zmin": 0.0, "zmax": pixel_max,
                  "showscale": False,
                  "hovertemplate": "patch in row %{y}, column %{x}<br>ink %{z:.1f} of " + f"{pixel_max:g}<extra></extra>"}],
        "layout": _layout(title, x, y, height=height, margin={"l": 44, "r": 8, "t": 36, "b": 40},
                          meta={"range": [0.0, pixel_max]}),
    }


def attention_map(rows, title, scale=None, height=240):
    """The [CLS] token's attention over the patches, laid out on the patch grid. ``scale``: a
    (low, high) shared with other maps; by default 0 to this map's largest weight."""
    low, high = scale or (0.0, max(1e-12, max(v for r in rows for v in r)))
    x, y = _grid_axes(len(rows), len(rows[0]))
    return {
        "data": [{"type": "heatmap", "z": rows, "colorscale": "Viridis", "zmin": low, "zmax": high,
                  "hovertemplate": "patch in row %{y}, column %{x}<br>attention %{z:.4f}<extra></extra>",
                  "colorbar": _colorbar("attention")}],
        "layout": _layout(title, x, y, height=height, margin={"l": 44, "r": 8, "t": 36, "b": 40},
                          meta={"range": [low, high]}),
    }
