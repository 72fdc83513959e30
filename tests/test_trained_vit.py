"""The trained digit ViT on the page (issue 12, phase 2): the `trained-vit` component's numbers
against pe_engine.vit under CPython, its figures against plotly, its worker calls, and the
generic "file" option kind that brings the weights to the build and the browser.

The article is built once, in-process, from a copy of content/; its page data and HTML are
parsed, and every number is recomputed here with the engine's own vit module (vit.load,
vit.forward, vit.accuracy, vit.neighbour_far_similarity), not through views.py.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import plotly.graph_objects as go
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import build  # noqa: E402
from pe_engine import components, facts, learned, resample, seeded_permutation, views, worker_api  # noqa: E402
from pe_engine import vit as E  # noqa: E402

MODELS = ROOT / "content" / "models"
WEIGHTS = "models/vit_digits.safetensors"
RECORD = "models/vit_digits.json"
NAMES = ["learned", "none", "sincos", "learned_shift"]
FRONT = "---\ntitle: {title}\ndescription: A test page.\n{extra}---\n\n"


@pytest.fixture(scope="module")
def committed():
    blob = (MODELS / "vit_digits.safetensors").read_bytes()
    return blob, json.loads((MODELS / "vit_digits.json").read_text()), E.load(blob)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained-vit")
    content = tmp / "content"
    shutil.copytree(ROOT / "content", content)
    folders = build.Folders(content=content, out=tmp / "out", cache=tmp / "cache")
    build.build(folders, snapshot=False)
    page = (folders.out / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S).group(1))
    instance = next(i for i in data["components"]["instances"] if i["name"] == "trained-vit")
    start = page.index('id="trained-vit"')
    prose = page[start:page.index('<section class="component trained-vit"')]
    return {"out": folders.out, "page": page, "instance": instance, "view": instance["view"], "prose": prose}


def _mean_heads(layer):
    return [[sum(h[r][c] for h in layer) / len(layer) for c in range(len(layer[0][0]))] for r in range(len(layer[0]))]


def _close(a, b, tol=1e-12):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, tol)
    else:
        assert abs(a - b) <= tol, (a, b)


_ACCURACY = {}


def engine_accuracy(bundle, name, test, grid=None, variant=None, seed=0):
    """Correct test predictions of one model, computed with vit.accuracy (remembered)."""
    key = (name, test, grid, variant, seed)
    if key not in _ACCURACY:
        m, imgs, labels = bundle["models"][name], bundle["test_images"], bundle["test_labels"]
        if test == "plain":
            got = E.accuracy(m, imgs, labels)
        elif test == "shuffled":
            got = E.accuracy(m, imgs, labels, orders=E.shuffle_orders(len(imgs), 64, seed))
        elif m.pe == "sincos" and variant != "recomputed":
            got = E.accuracy(m, imgs, labels, new_size=grid, pos=resample(m.pos, grid, 8, 1, variant))
        else:
            got = E.accuracy(m, imgs, labels, new_size=grid, method=variant if variant in E.METHODS else "timm")
        _ACCURACY[key] = got["correct"]
    return _ACCURACY[key]


# --------------------------------------------------------------------------- the page's numbers

def test_the_digit_shown_is_the_engines(site, committed):
    _, _, bundle = committed
    d = site["view"]["digit"]
    k = site["instance"]["options"]["digit"]
    assert d["input"]["index"] == k and d["input"]["label"] == bundle["test_labels"][k]
    image = bundle["test_images"][k]
    _close(d["input"]["figure"]["data"][0]["z"], [image[r * 8:(r + 1) * 8] for r in range(8)], 0)
    _close(d["input"]["original"], d["input"]["figure"]["data"][0]["z"], 0)
    for name in NAMES:
        out = E.forward(bundle["models"][name], image)
        r = d["results"][name]
        assert r["prediction"] == out["prediction"]
        _close(r["probs"], out["probs"])
        _close(r["figure"]["data"][0]["z"], _mean_heads(out["attention"][-1]))
    # The HTML shows the same: each model's prediction in its "Prediction" status.
    for name in NAMES:
        card = re.search(rf'<article class="tv-card" data-model="{name}".*?</article>', site["page"], re.S).group(0)
        status = re.search(r'<p class="tv-prediction" role="status"[^>]*aria-label="(Prediction[^"]*)"[^>]*>(.*?)</p>',
                           card, re.S)
        assert status, name
        text = re.sub(r"<[^>]+>", "", status.group(2))
        best = max(d["results"][name]["probs"])
        assert text.startswith(f"Prediction: {d['results'][name]['prediction']} ({100 * best:.1f}% probability)")


def test_similarity_measures_are_the_engines_and_the_records(site, committed):
    _, record, bundle = committed
    sim = site["view"]["similarity"]
    blank = set(record["similarity"]["blank_slots"])
    assert sim["blank_slots"] == sorted(blank) and sim["far"] == facts.far_apart()
    assert record["similarity"]["definition"]["far"].endswith(f">= {facts.far_apart()}")
    tables = {"untrained": learned(65, 32, seed=record["seed"]), "learned": bundle["models"]["learned"].pos,
              "learned_shift": bundle["models"]["learned_shift"].pos, "sincos": bundle["models"]["sincos"].pos}
    in_record = {"untrained": "learned (init)", "learned": "learned (trained)",
                 "learned_shift": "learned_shift (trained)", "sincos": "sincos"}
    for key, table in tables.items():
        want = E.neighbour_far_similarity(table, 8, far=3, blank=blank)
        got = sim["tables"][key]["stats"]
        assert set(got) == set(want)
        for stat, value in want.items():
            _close(got[stat], value)
            _close(record["similarity"]["tables"][in_record[key]][stat], value)
        row = re.search(rf'<tr data-table="{key}">(.*?)</tr>', site["page"], re.S).group(1)
        for stat in ("neighbour_mean", "far_mean", "gap", "far_mean_blank_pairs", "far_mean_ink_pairs"):
            cell = re.search(rf'data-stat="{stat}">(.*?)</td>', row).group(1)
            assert re.sub(r"<[^>]+>", "", cell) == f"{want[stat]:.2f}"
    # The trained table learned a map of the grid; the untrained one has none.
    assert sim["tables"]["learned"]["stats"]["gap"] > 10 * abs(sim["tables"]["untrained"]["stats"]["gap"]) > 0


def test_every_accuracy_on_the_page_is_the_engines(site, committed):
    """The record's counts the first view shows, recomputed with vit.accuracy; and the table's
    cells (count and percentage) say the same."""
    _, record, bundle = committed
    acc = site["view"]["accuracy"]
    assert acc["total"] == len(bundle["test_images"]) == 360
    seed = acc["shuffle_seed"]
    cells = dict(re.findall(r'<td data-cell="([^"]+)" data-source="record" data-correct="(\d+)"', site["page"]))
    grid = site["instance"]["options"]["grid"]
    checked = 0
    for name in NAMES:
        a = acc["models"][name]
        assert a["plain"] == engine_accuracy(bundle, name, "plain") == int(cells[f"{name} plain"])
        assert a["shuffled"] == engine_accuracy(bundle, name, "shuffled", seed=seed) == int(cells[f"{name} shuffled"])
        for size, variants in a["resized"].items():
            for variant, correct in variants.items():
                assert correct == engine_accuracy(bundle, name, "resized", int(size), variant), (name, size, variant)
                if int(size) == grid:
                    assert correct == int(cells[f"{name} resized {variant}"])
                checked += 1
    assert checked == 2 * (3 + 1 + 4 + 3)  # two grids: learned 3 methods, none 1, sincos 1 + 3, shift 3
    for key, correct in cells.items():
        cell = re.search(rf'<td data-cell="{key}"[^>]*>([^<]*)</td>', site["page"]).group(1)
        assert cell == f"{100 * int(correct) / 360:.1f}%"
    # Without a positional embedding a shuffle changes nothing, with one the model collapses.
    assert acc["models"]["none"]["shuffled"] == acc["models"]["none"]["plain"]
    for name in ("learned", "sincos", "learned_shift"):
        assert acc["models"][name]["shuffled"] < 0.2 * acc["models"][name]["plain"]


def test_the_prose_numbers_are_the_engines(site, committed):
    """The section's percentages and similarities (facts from the record) are the engine's."""
    _, record, bundle = committed
    text = html.unescape(re.sub(r"<[^>]+>", "", site["prose"]))
    for name in NAMES:
        assert f"{engine_accuracy(bundle, name, 'plain') / 360:.1%}" in text, name
        assert f"{engine_accuracy(bundle, name, 'shuffled') / 360:.1%}" in text, name
    for name, variants in {"learned": ["timm", "deit", "jax"], "learned_shift": ["timm", "deit", "jax"],
                           "sincos": ["recomputed", "timm", "deit", "jax"], "none": ["unchanged"]}.items():
        for variant in variants:
            assert f"{engine_accuracy(bundle, name, 'resized', 16, variant) / 360:.1%}" in text, (name, variant)
    gap = E.neighbour_far_similarity(bundle["models"]["learned"].pos, 8)["gap"]
    assert f"{gap:.2f}" in text
    assert "16×16" in text and "8×8" in text
    assert not re.search(r"\{=|=\}", text)


def test_page_labels_and_files(site):
    page, instance = site["page"], site["instance"]
    assert 'aria-label="Trained positional embedding: position similarity"' in page
    assert page.count('aria-label="Draw a digit"') == 1
    section = page[page.index('<section class="component trained-vit"'):]
    section = section[:section.index("</section>")]
    assert len(re.findall(r'role="status"[^>]*aria-label="Prediction', section)) == 4
    # The weights and the record: copied under hashed names, their URLs in the page data.
    for option, rel in (("weights", WEIGHTS), ("record", RECORD)):
        f = instance["files"][option]
        assert f["path"] == rel
        src = ROOT / "content" / rel
        assert re.fullmatch(rf"models/{src.stem}-[0-9a-f]{{12}}{re.escape(src.suffix)}", f["url"]), f["url"]
        assert (site["out"] / f["url"]).read_bytes() == src.read_bytes()
        assert f["bytes"] == src.stat().st_size
    # The similarity figures are pictures in the HTML, not numbers in the page data.
    assert "_figures" not in instance["view"]
    assert all("figure" not in t for t in instance["view"]["similarity"]["tables"].values())
    for key in ("untrained", "learned", "learned_shift", "sincos"):
        img = re.search(rf'id="trained-vit-0-similarity_{key}".*?<img src="(images/figure-[0-9a-f]+\.png)"', page, re.S)
        assert img and (site["out"] / img.group(1)).is_file(), key


# --------------------------------------------------------------------------- figures

def _inputs():
    return views.Inputs(files={"weights": (MODELS / "vit_digits.safetensors").read_bytes(),
                               "record": (MODELS / "vit_digits.json").read_bytes()})


def test_every_figure_is_a_valid_plotly_figure(site):
    c = components.get("trained-vit")
    figs = [site["view"]["digit"]["input"]["figure"]] + [r["figure"] for r in site["view"]["digit"]["results"].values()]
    sim = c.compute(_inputs(), {"part": "similarity"}, reader=True)["similarity"]
    figs += [t["figure"] for t in sim["tables"].values()]
    for mode, extra in (("shuffled", {"shuffle_seed": 3}), ("resized", {"grid": 12, "method": "jax"})):
        d = c.compute(_inputs(), {"part": "digit", "digit": 5, "input": mode, **extra}, reader=True)["digit"]
        figs += [d["input"]["figure"]] + [r["figure"] for r in d["results"].values()]
    for fig in figs:
        go.Figure(fig)  # raises on any property plotly does not know
        assert fig["layout"]["title"]["text"]
    assert len(figs) == 1 + 4 + 4 + 2 * 5


# --------------------------------------------------------------------------- the view's live parts

def test_digit_modes_match_the_engine(committed):
    _, _, bundle = committed
    c = components.get("trained-vit")
    image = bundle["test_images"][7]
    shuffled = c.compute(_inputs(), {"part": "digit", "digit": 7, "input": "shuffled", "shuffle_seed": 4},
                         reader=True)["digit"]
    order = seeded_permutation(64, 4)
    assert shuffled["input"]["order"] == order
    _close(shuffled["input"]["figure"]["data"][0]["z"], [[image[order[r * 8 + c]] for c in range(8)] for r in range(8)], 0)
    plain = c.compute(_inputs(), {"part": "digit", "digit": 7}, reader=True)["digit"]
    for name in NAMES:
        out = E.forward(bundle["models"][name], image, order=order)
        _close(shuffled["results"][name]["probs"], out["probs"])
    # (b) is blind to the shuffle: the same answer, bit for bit.
    assert shuffled["results"]["none"]["probs"] == plain["results"]["none"]["probs"]
    resized = c.compute(_inputs(), {"part": "digit", "digit": 7, "input": "resized", "grid": 12, "method": "deit"},
                        reader=True)["digit"]
    big = E.upsample(image, 8, 12)
    assert resized["input"]["size"] == 12 and len(resized["input"]["figure"]["data"][0]["z"]) == 12
    for name in NAMES:
        m = bundle["models"][name]
        _close(resized["results"][name]["probs"], E.forward(m, big, size=12, method="deit")["probs"])
    sincos = bundle["models"]["sincos"]
    _close(resized["results"]["sincos"]["resampled"]["probs"],
           E.forward(sincos, big, size=12, pos=resample(sincos.pos, 12, 8, 1, "deit"))["probs"])


def test_a_drawing_is_read_by_from_canvas(committed):
    _, _, bundle = committed
    c = components.get("trained-vit")
    drawing = [0] * 1024
    for y in range(4, 28):  # a vertical bar: a 1
        for x in range(13, 19):
            drawing[y * 32 + x] = 255
    d = c.compute(_inputs(), {"part": "digit", "drawing": drawing}, reader=True)["digit"]
    pixels = E.from_canvas(drawing, 32, 32)
    assert d["input"]["drawn"] and d["input"]["label"] is None
    _close(d["input"]["figure"]["data"][0]["z"], [pixels[r * 8:(r + 1) * 8] for r in range(8)])
    for name in NAMES:
        assert d["results"][name]["prediction"] == E.forward(bundle["models"][name], pixels)["prediction"]
    assert d["results"]["learned"]["prediction"] == 1
    for bad in ([0] * 10, [300] * 1024, ["x"] * 1024):
        with pytest.raises(ValueError, match="drawing"):
            c.compute(_inputs(), {"part": "digit", "drawing": bad}, reader=True)


def test_accuracy_runs_in_chunks_add_up(committed):
    _, _, bundle = committed
    c = components.get("trained-vit")

    def run(**kw):
        total = 0
        for start in range(0, 360, 100):
            a = c.compute(_inputs(), {"part": "accuracy", "start": start, "count": 100, **kw}, reader=True)["accuracy"]
            assert a["start"] == start and a["count"] == min(100, 360 - start)
            total += a["correct"]
        return total

    assert run(model="sincos", test="shuffled", shuffle_seed=0) == engine_accuracy(bundle, "sincos", "shuffled")
    assert run(model="none", test="shuffled", shuffle_seed=11) == engine_accuracy(bundle, "none", "plain")
    assert run(model="sincos", test="resized", grid=12, method="jax", recompute=False) == \
        engine_accuracy(bundle, "sincos", "resized", 12, "jax")
    with pytest.raises(ValueError, match="start"):
        c.compute(_inputs(), {"part": "accuracy", "start": 400}, reader=True)


def test_the_worker_calls_name_their_files():
    """worker_api: the page hands the files over once (set_file) and names them in each call."""
    weights = (MODELS / "vit_digits.safetensors").read_bytes()
    record = (MODELS / "vit_digits.json").read_bytes()
    files = {"weights": WEIGHTS, "record": RECORD}
    worker_api._state["files"].clear()
    answer = json.loads(worker_api.call("trained-vit", json.dumps({"part": "digit", "digit": 3, "files": files}))[0])
    assert "has not been given to the engine" in answer["error"]
    worker_api.set_file(WEIGHTS, weights)
    worker_api.set_file(RECORD, record)
    text, _ = worker_api.call("trained-vit", json.dumps({"part": "digit", "digit": 3, "files": files}))
    live = json.loads(text)["result"]["digit"]
    built = components.get("trained-vit").compute(_inputs(), {"part": "digit", "digit": 3}, reader=True)["digit"]
    assert live["results"]["learned"]["probs"] == built["results"]["learned"]["probs"]
    text, _ = worker_api.call("trained-vit", json.dumps({"part": "similarity", "files": files}))
    assert set(json.loads(text)["result"]["similarity"]["tables"]) == {"untrained", "learned", "learned_shift", "sincos"}
    for bad, message in (({"weights": WEIGHTS, "image": "x"}, "files must map"), ("models", "files must map")):
        answer = json.loads(worker_api.call("trained-vit", json.dumps({"part": "digit", "files": bad}))[0])
        assert message in answer["error"], answer
    answer = json.loads(worker_api.call("trained-vit", json.dumps({"part": "digit", "weights": "/etc/passwd",
                                                                    "files": files}))[0])
    assert "unknown option 'weights'" in answer["error"]
    worker_api._state["files"].clear()


# --------------------------------------------------------------------------- the "file" option kind

def test_option_kinds_file_bool_numbers():
    opt = components.Option("f", "file", "models/x.bin", "F")
    assert opt.problem("models/x.bin") is None and "non-empty" in opt.problem("")
    flag = components.Option("b", "bool", True, "B")
    assert flag.problem(False) is None and "true or false" in flag.problem(1)
    nums = components.Option("n", "numbers", None, "N", minimum=0, maximum=255, length=4)
    assert nums.problem(None) is None and nums.problem([0, 1.5, 255, 3]) is None
    assert "list of 4" in nums.problem([1, 2, 3])
    assert "between 0 and 255" in nums.problem([1, 2, 3, 256])
    assert "between 0 and 255" in nums.problem([1, 2, True, 4])
    assert nums.schema()["length"] == 4


def _site_with(tmp_path, body, files=()):
    content = tmp_path / "content"
    (content / "models").mkdir(parents=True)
    for rel in files:
        shutil.copyfile(ROOT / "content" / rel, content / rel)
    text = FRONT.format(title="T", extra="index: true\n") + "Prose.\n\n" + body
    (content / "index.md").write_text(text, encoding="utf-8")
    return build.Folders(content=content, out=tmp_path / "out", cache=tmp_path / "cache"), text


def test_a_missing_or_outside_file_is_refused_on_its_line(tmp_path):
    body = "::: trained-vit\nweights: models/missing.safetensors\nrecord: ../../etc/passwd\n:::\n"
    folders, text = _site_with(tmp_path, body, [RECORD])
    errors = build.check(folders)
    line = text.split("\n").index("::: trained-vit") + 1
    assert [(e.line, e.message) for e in errors] == [
        (line, "file 'models/missing.safetensors' (option 'weights') not found in content/"),
        (line, "file '../../etc/passwd' (option 'record') is outside content/")]
    assert not folders.out.exists()


def test_a_wrong_file_is_an_engine_error_on_its_line(tmp_path):
    folders, text = _site_with(tmp_path, "::: trained-vit\nweights: models/vit_digits.json\n:::\n", [RECORD])
    errors = build.check(folders)
    assert len(errors) == 1 and errors[0].line == text.split("\n").index("::: trained-vit") + 1
    assert errors[0].message.startswith("trained-vit: ")


def test_an_edited_file_gives_a_new_view(tmp_path):
    """The build remembers views by their files' content, so an edit during `serve` shows."""
    folders, _ = _site_with(tmp_path, "::: trained-vit\n:::\n", [WEIGHTS, RECORD])
    pages = build.read_and_check(folders)
    first = pages[0].components[0].view
    record = json.loads((folders.content / RECORD).read_text())
    record["configs"]["learned"]["test_correct"] = 1
    (folders.content / RECORD).write_text(json.dumps(record))
    again = build.read_and_check(folders)[0].components[0].view
    assert first["accuracy"]["models"]["learned"]["plain"] == 349
    assert again["accuracy"]["models"]["learned"]["plain"] == 1
    digest = hashlib.sha256((folders.content / WEIGHTS).read_bytes()).hexdigest()
    assert again["config"]["weights_sha256"] == digest


def test_damaged_or_foreign_files_are_content_errors(tmp_path):
    """A weights file cut short or a record of another shape: a message on the directive's line."""
    blob = (MODELS / "vit_digits.safetensors").read_bytes()
    record = json.loads((MODELS / "vit_digits.json").read_text())
    del record["configs"]["none"]
    cases = {"models/cut.safetensors": blob[:5000], "models/zeros.safetensors": bytes(64),
             "models/header.safetensors": (13).to_bytes(8, "little") + b'{"x": [1, 2]}' + bytes(8),
             "models/other.json": json.dumps(record).encode()}
    for name, data in cases.items():
        folders, text = _site_with(tmp_path / name.replace("/", "_"), "", [WEIGHTS, RECORD])
        (folders.content / name).write_bytes(data)
        option = "record" if name.endswith(".json") else "weights"
        index = folders.content / "index.md"
        index.write_text(index.read_text() + f"::: trained-vit\n{option}: {name}\n:::\n")
        errors = build.check(folders)
        assert len(errors) == 1 and errors[0].message.startswith("trained-vit: "), (name, [str(e) for e in errors])
