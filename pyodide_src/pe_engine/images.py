"""Resizing the photograph to the model's input size.

Done in the engine rather than by the browser's canvas so that the build (CPython) and
the page (Pyodide) compute the very same pixels, and hence the very same tokens.
"""


from math import fsum


def _area_weights(in_size, out_size):
    """Row i of the result: how much each input pixel covers output pixel i (sums to 1)."""
    scale = in_size / out_size
    weights = []
    for i in range(out_size):
        lo, hi = i * scale, (i + 1) * scale
        row = []
        j = int(lo)
        while j < in_size and j < hi:
            overlap = min(hi, j + 1) - max(lo, j)
            if overlap > 1e-12:
                row.append((j, overlap / scale))
            j += 1
        weights.append(row)
    return weights


def resize_area(pixels, height, width, channels, new_height, new_width):
    """Box-filter (area-average) resize of a flat row-major H×W×C list of 0..255 values.

    Returns a flat new_height×new_width×C list of ints (rounded half up), like the
    'area' resampling of OpenCV/PyTorch for integer and fractional scales alike.
    """
    for name, value in (("height", height), ("width", width), ("channels", channels),
                        ("new_height", new_height), ("new_width", new_width)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer (got {value!r})")
    if len(pixels) != height * width * channels:
        raise ValueError(f"pixels must hold height*width*channels = {height * width * channels} values "
                         f"(got {len(pixels)})")
    if (new_height, new_width) == (height, width):
        return [int(v) for v in pixels]
    if height % new_height == 0 and width % new_width == 0:
        return _resize_integer_factor(pixels, height, width, channels, height // new_height, width // new_width)
    wy, wx = _area_weights(height, new_height), _area_weights(width, new_width)
    c = channels
    # Columns first: each input row becomes new_width·C values.
    rows = []
    for y in range(height):
        base = y * width * c
        out_row = []
        for taps in wx:
            for ch in range(c):
                # fsum: exact, so CPython 3.11 and Pyodide's 3.14 (whose sum() differs) agree.
                out_row.append(fsum(w * pixels[base + x * c + ch] for x, w in taps))
        rows.append(out_row)
    result = []
    for taps in wy:
        columns = zip(*[[w * v for v in rows[y]] for y, w in taps])
        result.extend(min(255, int(fsum(col) + 0.5)) for col in columns)
    return result


def _resize_integer_factor(pixels, height, width, channels, fy, fx):
    """Whole blocks of fy×fx pixels: integer sums, the exact block mean rounded half up,
    and ~30× faster than the general path (whose float weights, e.g. 1/6, are not exact,
    so at an exact .5 it may round the other way)."""
    c = channels
    new_width = width // fx
    area = fy * fx
    out = []
    for by in range(height // fy):
        sums = [0] * (new_width * c)
        for y in range(by * fy, (by + 1) * fy):
            row = pixels[y * width * c:(y + 1) * width * c]
            for ch in range(c):
                lane = row[ch::c]
                for bx in range(new_width):
                    sums[bx * c + ch] += sum(lane[bx * fx:(bx + 1) * fx])
        out.extend(min(255, (2 * v + area) // (2 * area)) for v in sums)
    return out
