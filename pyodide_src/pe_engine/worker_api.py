"""The engine's door for the browser worker: named calls, JSON in, JSON (and bytes) out.

The worker holds the current photograph here (``set_source``) so it crosses from
JavaScript once, not on every call. Every call is looked up in CALLS; nothing else
in the package is reachable from the page.
"""
import json

from . import views

_state = {"source": None, "source_size": 0, "inputs": {}}


def set_source(data, size):
    """Store a size×size RGB photograph (bytes-like or a JS Uint8Array proxy)."""
    if hasattr(data, "to_bytes"):
        data = data.to_bytes()
    data = bytes(data)
    if size <= 0 or len(data) != size * size * 3:
        raise ValueError(f"source must hold size*size*3 = {size * size * 3} bytes (got {len(data)})")
    _state.update(source=list(data), source_size=size, inputs={})
    return True


def _pixels(image_size):
    if _state["source"] is None:
        raise ValueError("no source image: call set_source first")
    cache = _state["inputs"]
    if image_size not in cache:
        cache.clear()
        cache[image_size] = views.model_input(_state["source"], _state["source_size"], image_size)
    return cache[image_size]


def model_input(image_size):
    return _pixels(image_size)


def stepper(image_size, patch, dim, seed=0, strategy="learned", selected=5, heatmap=True):
    views.check_config(image_size, patch, dim)
    return views.stepper_view(_pixels(image_size), image_size, patch, dim, seed,
                              strategies=(strategy,), selected=selected, heatmap=heatmap)


def check(image_size, patch, dim):
    views.check_config(image_size, patch, dim)
    return {"ok": True, "dims": views.dimensions_view(image_size, patch, dim)}


def permutation(image_size, patch, dim, seed=0, shuffle_seed=1, strategy="learned"):
    return views.permutation_view(_pixels(image_size), image_size, patch, dim, seed, shuffle_seed, strategy)


CALLS = {
    "stepper": stepper,
    "check": check,
    "model_input": model_input,
    "permutation": permutation,
    "resolution": views.resolution_view,
    "relative_bias": views.relative_bias_view,
    "rope": views.rope_view,
}


# Matrices larger than this travel as raw float64 bytes beside the JSON: at ViT-B/16 a
# 197×768 heatmap is 4.4 MB of JSON text, which took 0.2 s to write in CPython alone.
BINARY_CELLS = 4096


def _extract_matrices(value, out):
    """Replace big 2-D "z" lists in figure traces by {"__matrix__": i, "rows", "cols"}."""
    if isinstance(value, dict):
        z = value.get("z")
        if (isinstance(z, list) and z and isinstance(z[0], list)
                and len(z) * len(z[0]) > BINARY_CELLS and all(v is not None for v in z[0])):
            out.append(z)
            value = dict(value, z={"__matrix__": len(out) - 1, "rows": len(z), "cols": len(z[0])})
        return {k: _extract_matrices(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_extract_matrices(v, out) for v in value]
    return value


def call(name, kwargs_json):
    """Run CALLS[name](**kwargs) and return (JSON text, float64 bytes).

    Big matrices travel in the bytes (see _extract_matrices). Errors come back as
    {"error": message, "kind": ...} so the page can show the message; ValueError is the
    engine's way of saying a parameter is wrong.
    """
    from array import array

    matrices = []
    payload = _extract_matrices(_run(name, kwargs_json), matrices)
    flat = array("d")
    for m in matrices:
        for row in m:
            flat.extend(row)
    return json.dumps(payload, allow_nan=False, separators=(",", ":")), flat.tobytes()


def _run(name, kwargs_json):
    fn = CALLS.get(name)
    if fn is None:
        return {"error": f"unknown call {name!r}", "kind": "LookupError"}
    try:
        kwargs = json.loads(kwargs_json)
        if not isinstance(kwargs, dict):
            raise ValueError("arguments must be a JSON object")
        return {"result": fn(**kwargs)}
    except (ValueError, TypeError) as exc:
        return {"error": str(exc), "kind": type(exc).__name__}
    except Exception as exc:  # the page keeps working; it shows the message
        return {"error": f"{type(exc).__name__}: {exc}", "kind": type(exc).__name__}
