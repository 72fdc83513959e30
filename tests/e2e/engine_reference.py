"""What the page should show, computed by pe_engine under CPython from the built photograph."""
import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "pyodide_src"))

from pe_engine import views  # noqa: E402

SOURCE_SIZE = 384


@functools.lru_cache(maxsize=None)
def source_pixels() -> tuple:
    from PIL import Image

    [path] = [p for p in (ROOT / "dist" / "images").glob("astronaut-*.png")]
    with Image.open(path) as im:
        return tuple(im.convert("RGB").tobytes())


@functools.lru_cache(maxsize=None)
def stepper(image_size=64, patch=16, dim=8, seed=0, strategy="learned", selected=5):
    pixels = views.model_input(list(source_pixels()), SOURCE_SIZE, image_size)
    return views.stepper_view(pixels, image_size, patch, dim, seed, strategies=(strategy,), selected=selected)


def table(strategy, image_size=64, patch=16, dim=8, seed=0):
    g = image_size // patch
    return views.pe_table(strategy, g, g, dim, seed)


def max_abs_diff(a, b) -> float:
    assert len(a) == len(b), (len(a), len(b))
    worst = 0.0
    for row_a, row_b in zip(a, b):
        assert len(row_a) == len(row_b)
        for x, y in zip(row_a, row_b):
            if x is None or y is None:
                assert x is None and y is None
                continue
            worst = max(worst, abs(x - y))
    return worst
