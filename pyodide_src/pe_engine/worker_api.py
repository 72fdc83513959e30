"""The engine's door for the browser worker: named calls with JSON in and JSON out.

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


def call(name, kwargs_json):
    """Run CALLS[name](**kwargs) and return the result as JSON text.

    Errors come back as {"error": message, "kind": ...} so the page can show the message;
    ValueError is the engine's way of saying a parameter is wrong.
    """
    fn = CALLS.get(name)
    if fn is None:
        return json.dumps({"error": f"unknown call {name!r}", "kind": "LookupError"})
    try:
        kwargs = json.loads(kwargs_json)
        result = fn(**kwargs)
    except ValueError as exc:
        return json.dumps({"error": str(exc), "kind": "ValueError"})
    except Exception as exc:  # the page keeps working; it shows the message
        return json.dumps({"error": f"{type(exc).__name__}: {exc}", "kind": type(exc).__name__})
    return json.dumps({"result": result}, allow_nan=False, separators=(",", ":"))
