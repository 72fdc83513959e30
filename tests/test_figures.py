"""Every figure the components show is a valid Plotly figure (checked by the Python plotly
package), readable (titles in plain words, every colour bar titled), and scaled to show its
structure (fitted similarity scales, one scale per comparison)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "pyodide_src"))
from pe_engine import components, figures, views  # noqa: E402
from pe_engine.similarity import cosine_similarity_map  # noqa: E402

PIXELS = [((i * 37) % 251) for i in range(384 * 384 * 3)]


def inputs(needed=None):
    return views.Inputs(lambda size: views.model_input(PIXELS, 384, size), needed)


def component_views():
    stepper = components.get("vit-stepper")
    yield "vit-stepper", stepper.compute(inputs(), {"all_strategies": True})
    yield "vit-stepper ViT-B/16", stepper.compute(inputs(), {"image_size": 224, "patch": 16, "dim": 768,
                                                             "strategy": "sincos2d"})
    yield "resolution-change", components.get("resolution-change").compute(inputs(), {})
    yield "resolution-change 6->4", components.get("resolution-change").compute(
        inputs(), {"from_grid": 6, "to_grid": 4, "method": "deit", "channel": 3})
    yield "permutation-demo", components.get("permutation-demo").compute(
        inputs(stepper.view_values({}, reader=True)), {})
    yield "relative-bias", components.get("relative-bias").compute(inputs(), {})
    yield "rope-shift", components.get("rope-shift").compute(inputs(), {})


def all_figures(value, path=""):
    if isinstance(value, dict):
        if "data" in value and "layout" in value:
            yield path, value
            return
        for k, v in value.items():
            yield from all_figures(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from all_figures(v, f"{path}[{i}]")


FIGURES = [(f"{name}{path}", fig) for name, view in component_views() for path, fig in all_figures(view)]


@pytest.mark.parametrize("name,figure", FIGURES, ids=[n for n, _ in FIGURES])
def test_figure_is_valid_plotly_and_readable(name, figure):
    go.Figure(figure)  # raises on any property Plotly does not know
    title = figure["layout"]["title"]["text"]
    assert "_" not in title and "((" not in title and "))" not in title, title
    assert not re.search(r"\(\d+ × \d+\)\)", title), title
    for trace in figure["data"]:
        if trace["type"] == "heatmap" and trace.get("showscale", True):
            assert trace["colorbar"]["title"]["text"], (name, "a colour bar without a title")
            if "similarity" in trace["hovertemplate"]:
                assert "cosine similarity" in trace["colorbar"]["title"]["text"]
        for shape in figure["layout"].get("shapes", []):
            assert "color" not in shape.get("line", {}), "line colours come from the page's theme"


def test_similarity_scale_fits_what_it_shows():
    # 2D sin-cos at ViT-B/16: every similarity lies in 0.67-1.00; a fixed -1..1 scale looks flat.
    table = views.pe_table("sincos2d", 14, 14, 768)
    grid_map = cosine_similarity_map(table, 14, 14, 0)
    fig = figures.similarity_map(grid_map, 0)
    low = min(v for row in grid_map for v in row)
    assert low > 0.6 and fig["data"][0]["zmin"] == pytest.approx(low) and fig["data"][0]["zmax"] == 1.0
    assert fig["layout"]["meta"]["range"] == [fig["data"][0]["zmin"], 1.0]


def test_small_multiples_have_labels_and_one_shared_scale():
    view = components.get("vit-stepper").compute(inputs(), {"strategy": "sincos2d"})
    tiles = view["strategies"]["sincos2d"]["figures"]["tiles"]
    trace, layout = tiles["data"][0], tiles["layout"]
    assert trace.get("showscale", True) and trace["colorbar"]["title"]["text"] == "cosine similarity"
    assert layout["xaxis"]["ticktext"] == ["0", "1", "2", "3"] and layout["yaxis"]["ticktext"] == ["0", "1", "2", "3"]
    assert layout["xaxis"]["title"]["text"] and layout["yaxis"]["title"]["text"]
    maps = view["strategies"]["sincos2d"]["similarity"]
    assert trace["zmin"] == pytest.approx(min(v for m in maps.values() for row in m for v in row))


def test_one_comparison_one_scale():
    view = components.get("resolution-change").compute(inputs(), {"from_grid": 6, "to_grid": 4})
    f = view["figures"]
    same = lambda *names: len({(f[n]["data"][0]["zmin"], f[n]["data"][0]["zmax"]) for n in names}) == 1
    assert same("learned_old", "learned_new")
    assert same("channel_old", "channel_new")
    assert same("difference_timm", "difference_deit")
    assert same("similarity_learned", "similarity_sinusoidal", "similarity_sincos2d")
    # The channel is a G×G picture before and a G'×G' one after.
    assert len(f["channel_old"]["data"][0]["z"]) == 6 and len(f["channel_new"]["data"][0]["z"]) == 4
    # The methods differ where the reader can see it: the difference maps are not zero.
    assert max(abs(v) for row in f["difference_deit"]["data"][0]["z"] for v in row) > 1e-4


def test_index_figure_uses_a_discrete_scale():
    view = components.get("relative-bias").compute(inputs(), {"window": 3})
    trace = view["figures"]["index"]["data"][0]
    stops = trace["colorscale"]
    assert len(stops) == 2 * 25  # one flat band per table entry
    assert all(stops[2 * i][1] == stops[2 * i + 1][1] for i in range(25))
    assert (trace["zmin"], trace["zmax"]) == (-0.5, 24.5)
