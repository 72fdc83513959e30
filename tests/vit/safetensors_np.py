"""Write and read the safetensors layout with numpy (independent of the engine's
stdlib reader): 8-byte little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [start, end]}, "__metadata__": {str: str}}
padded with spaces to a multiple of 8, then the little-endian data."""

import json
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "U8": "u1", "I64": "<i8"}
NAMES = {np.dtype(v).str: k for k, v in DTYPES.items()}


def dumps(tensors, metadata=None):
    """tensors: ordered {name: numpy array (f8, f4, u1 or i8)} -> bytes (in
    the given order)."""
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        key = NAMES[np.dtype(dt).str]
        raw = arr.astype(DTYPES[key]).tobytes()
        header[name] = {"dtype": key, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header = {"__metadata__": {k: str(v) for k, v in metadata.items()}, **header}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def loads(data):
    """bytes -> ({name: numpy array}, metadata)."""
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + start:8 + n + end],
                                  dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out, meta
