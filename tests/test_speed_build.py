"""The build's side of issue 13: colour scales shared with the canvas renderer, precompressed
siblings, the hosting files and the runtime data start.js reads."""
import gzip
import json
import re
import sys
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import build  # noqa: E402


def test_named_scales_are_plotlys():
    """The canvas renderer and the no-script pictures draw plotly.js's own named scales."""
    from plotly.colors import PLOTLY_SCALES

    assert set(build.PLOTLY_SCALES) == set(PLOTLY_SCALES)
    for name, stops in PLOTLY_SCALES.items():
        assert [[float(t), c] for t, c in build.PLOTLY_SCALES[name]] == [[float(t), c] for t, c in stops], name
    assert build.scale_stops("RdBu")[0] == (0.0, (5, 10, 172))
    assert build.scale_stops("Viridis")[-1] == (1.0, (0xfd, 0xe7, 0x25))


def test_precompression_rule(tmp_path):
    folders = build.Folders(cache=tmp_path / "cache")
    text = ("let x = 1;\n" * 500).encode()
    got = build.precompressed("assets/site-0123456789ab/js/x.js", text, folders)
    assert set(got) == {".gz", ".br"}
    assert gzip.decompress(got[".gz"]) == text and brotli.decompress(got[".br"]) == text
    assert build.precompressed("assets/x.js", b"tiny", folders) == {}  # too small to bother
    assert build.precompressed("images/x.png", text, folders) == {}  # not a text or binary kind
    assert build.precompressed("_headers", text, folders) == {}  # the hosts' own files
    import os
    noise = os.urandom(50_000)
    assert build.precompressed("vendor/x-1.0.0/x.zip", noise, folders) == {}  # compressed already
    # Cached by content: the second call reads the cache.
    again = build.precompressed("assets/site-0123456789ab/js/x.js", text, folders)
    assert again == got and len(list((tmp_path / "cache" / "compressed").iterdir())) >= 2
    assert build.brotli_quality("vendor/plotly-4.1.1/p.js", 1_500_000) == 11
    assert build.brotli_quality("vendor/pyodide-314.0.7/pyodide.asm.wasm", 9_600_000) == 9
    assert build.brotli_quality("index.html", 250_000) == 9


def test_hosting_files_carry_the_csp():
    files = build.hosting_files()
    assert f'add_header Content-Security-Policy "{build.CSP}" always;' in files["_nginx.conf"]
    assert f"  Content-Security-Policy: {build.CSP}" in files["_headers"].splitlines()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- nginx:begin -->\n```nginx\n(.*?)```\n<!-- nginx:end -->", readme, re.S)
    assert block and block.group(1) == files["_nginx.conf"], "README's nginx snippet is not the build's"


def test_built_page_has_runtime_data_first(tmp_path):
    from sitebuild import copy_content, run

    content = copy_content(tmp_path)
    out = tmp_path / "dist"
    proc = run("build", content=content, out=out, timeout=300)
    assert proc.returncode == 0, proc.stderr
    html = (out / "index.html").read_text(encoding="utf-8")
    head = html[:html.index("</head>")]
    # runtime-data, then start.js, before the style sheets and every other script.
    order = [m.group(0) for m in re.finditer(r'<script[^>]*>|<link rel="stylesheet"', head)]
    assert order[0] == '<script type="application/json" id="runtime-data">'
    assert re.fullmatch(r'<script src="assets/site-[0-9a-f]{12}/js/start\.js">', order[1]), order[:3]
    assert 'rel="preload"' not in head  # the worker fetches its own files; a preload would be a second copy
    data = json.loads(re.search(r'id="runtime-data">(.*?)</script>', head).group(1))
    assert data["photo"]["size"] == 64 and data["photo"]["source_size"] == build.SOURCE_IMAGE_SIZE
    for key in ("image", "input"):
        assert (out / data["photo"][key]).is_file()
    assert data["download_mb"] >= 1
    assert (out / data["photo"]["input"]).with_suffix(".webp").is_file()
    assert (out / "_headers").is_file() and (out / "_nginx.conf").is_file()
    for rel in ("index.html", "vendor/pyodide-314.0.7/pyodide.asm.wasm"):
        assert (out / (rel + ".br")).is_file() and (out / (rel + ".gz")).is_file()
