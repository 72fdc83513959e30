"""The engine's door for the browser worker: named calls, JSON in, JSON (and bytes) out.

The worker holds the current photograph here (``set_source``) so it crosses from
JavaScript once, not on every call. Every call is looked up in CALLS; nothing else
in the package is reachable from the page.
"""
import json

from . import components, views

_state = {"source": None, "source_size": 0, "inputs": {}, "files": {}}
MAX_FILES = 8  # the page's "file" options (a weights file, its record): the most kept at once


def set_source(data, size, primed=None, primed_size=0):
    """Store a size×size RGB photograph (bytes-like or a JS Uint8Array proxy).

    ``primed``: the model input at ``primed_size`` when the page already has it (the build's
    PNG of the default view holds exactly the bytes model_input computes), so the first view
    does not wait for the pure-Python resize."""
    data = _bytes(data)
    if size <= 0 or len(data) != size * size * 3:
        raise ValueError(f"source must hold size*size*3 = {size * size * 3} bytes (got {len(data)})")
    _state.update(source=list(data), source_size=size, inputs={})
    if primed is not None:
        primed = _bytes(primed)
        if len(primed) != primed_size * primed_size * 3:
            raise ValueError("primed input has the wrong size")
        _state["inputs"][primed_size] = list(primed)
    return True


def set_file(path, data):
    """Store the bytes of a component's "file" option (``path``: its value, as in markdown),
    fetched by the page; a call names it with ``files={option: path}``."""
    if not isinstance(path, str) or not path:
        raise ValueError("a file needs its path")
    files = _state["files"]
    files.pop(path, None)
    while len(files) >= MAX_FILES:
        files.pop(next(iter(files)))
    files[path] = _bytes(data)
    return True


def _files(component, given):
    """The call's ``files`` ({option: path}) as a lookup for views.Inputs."""
    if given is None:
        given = {}
    names = {o.name for o in component.options if o.kind == "file"}
    if not isinstance(given, dict) or not set(given) <= names:
        raise ValueError(f"files must map {component.name}'s file options ({', '.join(sorted(names)) or 'none'}) "
                         "to their paths")

    def lookup(name):
        path = given.get(name)
        if path not in _state["files"]:
            raise ValueError(f"the file of option '{name}' ({path!r}) has not been given to the engine (set_file)")
        return _state["files"][path]
    return lookup


def _bytes(data):
    if hasattr(data, "to_bytes"):
        data = data.to_bytes()
    return bytes(data)


def _pixels(image_size):
    if _state["source"] is None:
        raise ValueError("no source image: call set_source first")
    cache = _state["inputs"]
    if image_size not in cache:
        for size in [s for s in cache if s != image_size][:-1]:
            del cache[size]  # keep the most recent other size (the default view's, often)
        cache[image_size] = views.model_input(_state["source"], _state["source_size"], image_size)
    return cache[image_size]


def model_input(image_size):
    return _pixels(image_size)


def _component_call(component):
    def run(**kwargs):
        needed = kwargs.pop("needs", None)
        files = _files(component, kwargs.pop("files", None))
        if component.needs:
            if not isinstance(needed, dict):
                raise ValueError(f"{component.name} needs the options of its {component.needs}")
            needed = components.get(component.needs).view_values(needed, reader=True)
        return component.compute(views.Inputs(_pixels, needed, files), kwargs, reader=True)
    return run


# Every call the page can make: one per component (its name, as in markdown), plus the
# model input the stepper shows.
CALLS = {name: _component_call(c) for name, c in components.COMPONENTS.items()}
CALLS["model_input"] = model_input


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
