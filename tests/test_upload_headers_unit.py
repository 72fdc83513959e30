"""The upload header parser (issue 15, item 9) at the byte level, without a browser:
upload.js's checkFile runs in Node on File objects built from the samples in
upload_samples.py. Each case is refused with the size it declares, refused as unreadable,
or accepted with the size that the page crops by. Node counts the bytes each check read.

The same files go through the real page in tests/e2e/test_upload_headers.py.
"""
import json
import shutil
import sys
import subprocess
from pathlib import Path

import pytest

from upload_samples import MB, cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import build  # noqa: E402

LIMITS = {"bytes": build.LIMITS.image_bytes, "pixels": build.LIMITS.image_pixels}  # as the page gets them

ROOT = Path(__file__).resolve().parents[1]
UPLOAD_JS = ROOT / "site_templates" / "static" / "js" / "upload.js"
NODE = shutil.which("node")

# Runs checkFile on every file in a folder; the File is wrapped to count what is read.
RUNNER = r"""
import { readFile, readdir } from "node:fs/promises";
const { checkFile } = await import(process.env.UPLOAD_JS);
const dir = process.env.CASES, limits = JSON.parse(process.env.LIMITS), out = {};
for (const name of (await readdir(dir)).sort()) {
  const file = new File([await readFile(`${dir}/${name}`)], name);
  let read = 0, reads = 0;
  const counted = { name, size: file.size, type: file.type,
                    slice: (a, b) => { const part = file.slice(a, b); read += part.size; reads += 1; return part; } };
  const t0 = performance.now();
  try { out[name] = { dims: await checkFile(counted, limits) }; } catch (err) { out[name] = { error: err.message }; }
  Object.assign(out[name], { read, reads, ms: performance.now() - t0 });
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    if NODE is None:
        pytest.skip("node is not installed")
    folder = tmp_path_factory.mktemp("upload-cases")
    for name, (data, _) in cases().items():
        (folder / name).write_bytes(data)
    done = subprocess.run([NODE, "--input-type=module"], input=RUNNER, capture_output=True, text=True, timeout=120,
                          env={"UPLOAD_JS": UPLOAD_JS.as_uri(), "CASES": str(folder), "PATH": "/usr/bin:/bin",
                               "LIMITS": json.dumps(LIMITS)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", sorted(cases()))
def test_header_parser(results, name):
    data, (outcome, want) = cases()[name]
    got = results[name]
    assert len(data) <= 20 * MB, "the upload limit refuses bigger files before any parsing"
    if outcome == "accepted":
        assert got.get("dims") == want, got
    else:
        assert "error" in got, f"accepted as {got.get('dims')}"
        message = got["error"]
        assert want in message, message
        assert message.startswith(f'"{name}"'), message
        assert message.endswith("."), message
    # Bounded: windows of the file up to 16 MB (a GIF: to its end, at most 20 MB).
    bound = len(data) if name.endswith(".gif") else min(len(data), 16 * MB)
    assert got["read"] <= bound + 2 * 65536, got
    assert got["reads"] <= 4200, got


def test_bounds_are_what_the_reads_show(results):
    """The metadata-heavy JPEG reads its segment headers, not its whole metadata; the tiny
    hostile files are read once."""
    for name in ("huge-lossless.webp", "huge-extended.webp", "huge-frame.gif", "huge.png"):
        assert results[name]["reads"] == 1, results[name]
    icc = results["many-icc-segments.jpg"]
    size = len(cases()["many-icc-segments.jpg"][0])
    assert icc["reads"] <= 45 and icc["read"] <= size + 65536, icc
