"""Plotly figure dicts: the one definition of every figure on the page.

Built under CPython at build time (first view) and in the Pyodide worker afterwards;
the page hands them unchanged to ``Plotly.react``. Plain dicts and lists only.
The tests validate every figure with ``plotly.graph_objects.Figure(spec)``.
"""

# Colour-vision-friendly maps: a diverging map for signed values, cividis for similarity.
DIVERGING = "RdBu"
SEQUENTIAL = "Cividis"
SELECTION_NAME = "selection"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


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


def _selection_row(row, width):
    """A rectangle around one heatmap row; the page moves it when the patch changes."""
    return {"type": "rect", "name": SELECTION_NAME, "xref": "x", "yref": "y",
            "x0": -0.5, "x1": width - 0.5, "y0": row - 0.5, "y1": row + 0.5,
            "line": {"color": "#f5a300", "width": 3}, "fillcolor": "rgba(0,0,0,0)"}


def position_labels(num_prefix, num_positions):
    return ["CLS"] * num_prefix + [str(k) for k in range(num_positions)]


def pe_heatmap(table, title, selected_row=None, num_prefix=1):
    """Positions × dimensions heatmap of a PE table ((prefix + N) × D).

    Rows are labelled by position name ("CLS", "0", "1", …) on a category axis, so the
    hover reads "position CLS" without a per-cell label array.
    """
    rows, dim = len(table), len(table[0]) if table else 0
    labels = position_labels(num_prefix, rows - num_prefix)
    peak = max((abs(v) for row in table for v in row), default=1.0) or 1.0
    return {
        "data": [{
            "type": "heatmap", "z": table, "y": labels, "x": list(range(dim)),
            "colorscale": DIVERGING, "reversescale": True, "zmid": 0.0, "zmin": -peak, "zmax": peak,
            "hovertemplate": "position %{y}<br>dimension %{x}<br>value %{z:.4f}<extra></extra>",
            "colorbar": {"thickness": 10, "len": 0.9},
        }],
        "layout": _layout(
            title,
            {"title": {"text": "dimension"}, "zeroline": False, "showgrid": False},
            {"title": {"text": "position"}, "type": "category", "autorange": "reversed",
             "zeroline": False, "showgrid": False},
            height=max(260, min(520, 40 + 18 * rows)),
            shapes=[_selection_row(selected_row, dim)] if selected_row is not None else [],
        ),
    }


def similarity_map(grid_map, index, title="Position similarity"):
    """Grid heatmap of cosine similarity between patch ``index`` and every patch."""
    gw = len(grid_map[0])
    return {
        "data": [{
            "type": "heatmap", "z": grid_map, "colorscale": SEQUENTIAL, "zmin": -1.0, "zmax": 1.0,
            "hovertemplate": "row %{y}, column %{x}<br>cosine similarity %{z:.3f}<extra></extra>",
            "colorbar": {"thickness": 10, "len": 0.9},
        }],
        "layout": _layout(
            title,
            {"title": {"text": "column"}, "constrain": "domain", "showgrid": False, "zeroline": False},
            {"title": {"text": "row"}, "autorange": "reversed", "scaleanchor": "x", "showgrid": False,
             "zeroline": False},
            height=300,
            shapes=[{"type": "rect", "name": SELECTION_NAME, "xref": "x", "yref": "y",
                     "x0": index % gw - 0.5, "x1": index % gw + 0.5,
                     "y0": index // gw - 0.5, "y1": index // gw + 0.5,
                     "line": {"color": "#f5a300", "width": 3}}],
        ),
    }


def similarity_tiles(maps, grid_h, grid_w, title="Similarity of every patch"):
    """Small multiples as in ViT Fig. 7: tile (r, c) shows patch (r, c)'s similarity map.

    Drawn as one heatmap with a blank (None) gutter between tiles: one trace for the
    browser to draw instead of grid_h × grid_w subplots.
    """
    gap = 1
    height = grid_h * (grid_h + gap) - gap
    width = grid_w * (grid_w + gap) - gap
    z = [[None] * width for _ in range(height)]
    for k, grid_map in enumerate(maps):
        top, left = (k // grid_w) * (grid_h + gap), (k % grid_w) * (grid_w + gap)
        for r in range(grid_h):
            z[top + r][left:left + grid_w] = grid_map[r]
    return {
        "data": [{"type": "heatmap", "z": z, "colorscale": SEQUENTIAL, "zmin": -1.0, "zmax": 1.0,
                  "hoverongaps": False, "hovertemplate": "cosine similarity %{z:.3f}<extra></extra>",
                  "showscale": False}],
        "layout": _layout(
            title,
            {"visible": False, "constrain": "domain"},
            {"visible": False, "autorange": "reversed", "scaleanchor": "x"},
            height=300, margin={"l": 8, "r": 8, "t": 36, "b": 8},
        ),
    }


def matrix_heatmap(z, title, x_title, y_title, colorscale=DIVERGING, zmid=0.0, height=300,
                   hover="%{z:.4f}", x=None, y=None):
    """A generic labelled heatmap (resampled tables, attention biases, RoPE scores)."""
    trace = {"type": "heatmap", "z": z, "colorscale": colorscale,
             "hovertemplate": f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>value {hover}<extra></extra>",
             "colorbar": {"thickness": 10, "len": 0.9}}
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
                           "zeroline": False}, height=height),
    }


def index_heatmap(index, title):
    """Swin's relative position index: integers, so a sequential map and integer hover."""
    return matrix_heatmap(index, title, "key token", "query token", colorscale="Viridis", zmid=None,
                          hover="%{z:d}")


def bar_compare(a, b, label_a, label_b, title):
    """Two vectors side by side (e.g. the [CLS] output before and after shuffling)."""
    xs = list(range(len(a)))
    return {
        "data": [
            {"type": "bar", "x": xs, "y": a, "name": label_a, "marker": {"color": "#3b6fb6"}},
            {"type": "bar", "x": xs, "y": b, "name": label_b, "marker": {"color": "#f5a300"}},
        ],
        "layout": _layout(title, {"title": {"text": "dimension"}}, {"title": {"text": "value"}},
                          height=260, barmode="group",
                          legend={"orientation": "h", "y": -0.3}),
    }
