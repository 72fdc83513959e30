"""The interactive components, each declared once.

A component is what an author places in markdown with ``::: name`` and what a reader
drives on the page. Its declaration (like a docutils directive's ``option_spec``) holds:

- its name: the one spelling used in markdown, templates, the worker and JS;
- each option: type, default, bounds, choices, the values its control offers, its label;
- the rules that tie options together (divisibility, the patch budget);
- what it needs (the permutation demo shuffles the patches of a stepper before it);
- the view function (``views.py``) that computes what it shows.

``build.py`` parses, checks and renders with it; ``worker_api`` validates the page's calls
with it; the page's scripts read it as JSON (``schema()``) from the page data; the README's
option table is ``markdown_table()``. Standard library only.
"""
from dataclasses import dataclass, field

from . import views

MAX_PATCHES = 1024  # the most patches the page draws (a 32 x 32 grid)
SEED_MAX = 2**31 - 1


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    group: str = ""  # choices shown under one control (the stepper's "2D-Aware" family)


@dataclass(frozen=True)
class Option:
    """One option of a component.

    kind: "int", "float", "choice", "text", "image" (a PNG or JPEG in content/), "file" (any
    file in content/: the build copies it under a hashed name, puts its URL in the page data
    and hands its bytes to the view as ``inputs.file(name)``), "bool", or "numbers" (a list
    of ``length`` numbers within the bounds, or None: a reader's input such as a drawing).
    control: how the page lets a reader change it: "select" (``offered`` values, plus the
    author's), "number" (any value within the bounds), "radio", or "" (authors only).
    view: whether the value is an argument of the component's view function.
    fragment: its key in the page URL's fragment ("" if it is not shared there).
    """
    name: str
    kind: str
    default: object
    label: str
    minimum: float = None
    maximum: float = None
    multiple_of: int = None
    choices: tuple = ()
    offered: tuple = ()
    control: str = ""
    unit: str = ""
    display: str = "{}"  # how its control shows a value: "{} px", "{0} × {0} grid"
    view: bool = True
    fragment: str = ""
    help: str = ""
    length: int = None  # "numbers": how many

    def allowed(self):
        """The allowed values in words, for messages and the README."""
        if self.kind == "choice":
            return ", ".join(c.value for c in self.choices)
        if self.kind in ("int", "float"):
            text = f"{_num(self.minimum)}–{_num(self.maximum)}"
            return text + (f", a multiple of {self.multiple_of}" if self.multiple_of else "")
        return self.help

    def problem(self, value):
        """Why ``value`` is not allowed (a sentence fragment), or None."""
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float) if self.kind == "float" else int):
                return f"must be {self.kind}, got {_short(value)}"
            if not self.minimum <= value <= self.maximum:
                return f"must be between {_num(self.minimum)} and {_num(self.maximum)}, got {_short(value)}"
            if self.multiple_of and value % self.multiple_of:
                return f"must be a multiple of {self.multiple_of}, got {_short(value)}"
        elif self.kind == "choice":
            if value not in [c.value for c in self.choices]:
                return f"must be one of {self.allowed()}; got {_short(value)}"
        elif self.kind in ("text", "image", "file"):
            if not isinstance(value, str) or not value.strip():
                return f"must be a non-empty str, got {_short(value)}"
            if len(value) > 500:
                return f"must be at most 500 characters long (got {len(value)})"
        elif self.kind == "bool":
            if not isinstance(value, bool):
                return f"must be true or false, got {_short(value)}"
        elif self.kind == "numbers" and value is not None:
            if not isinstance(value, list) or len(value) != self.length:
                return f"must be a list of {self.length} numbers, got {_short(value, 40)}"
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and self.minimum <= v <= self.maximum
                       for v in value):
                return f"must hold numbers between {_num(self.minimum)} and {_num(self.maximum)}"
        return None

    def show(self, value):
        """A value as its control shows it."""
        if self.kind == "choice":
            return next(c.label for c in self.choices if c.value == value)
        return self.display.format(_num(value))

    def offered_with(self, value):
        """The values this option's control offers, with ``value`` among them."""
        if self.control == "select" and self.kind == "choice":
            return [c.value for c in self.choices]
        values = set(self.offered)
        values.add(value)
        return sorted(values)

    def schema(self):
        out = {"name": self.name, "kind": self.kind, "default": self.default, "label": self.label,
               "control": self.control, "fragment": self.fragment}
        for key in ("minimum", "maximum", "multiple_of", "unit", "display", "length"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.minimum == 0:
            out["minimum"] = 0
        if self.choices:
            out["choices"] = [{"value": c.value, "label": c.label, "group": c.group} for c in self.choices]
        return out


@dataclass(frozen=True)
class Divides:
    """Option ``divisor`` divides option ``dividend`` (a patch size and its image)."""
    divisor: str
    dividend: str
    message: str

    def problem(self, values):
        if values[self.dividend] % values[self.divisor]:
            return self.message.format(**values)
        return None

    def schema(self):
        return {"kind": "divides", "divisor": self.divisor, "dividend": self.dividend, "message": self.message}


@dataclass(frozen=True)
class PatchBudget:
    """(image // patch)² patches is at most ``limit``: what the page can draw."""
    image: str
    patch: str
    limit: int
    message: str

    def problem(self, values):
        n = (values[self.image] // values[self.patch]) ** 2
        if n > self.limit:
            return self.message.format(patches=n, limit=self.limit, **values)
        return None

    def schema(self):
        return {"kind": "patch_budget", "image": self.image, "patch": self.patch, "limit": self.limit,
                "message": self.message}


@dataclass(frozen=True)
class Below:
    """Option ``option`` is smaller than option ``bound`` (a channel of a D-wide table)."""
    option: str
    bound: str
    message: str

    def problem(self, values):
        if values[self.option] >= values[self.bound]:
            return self.message.format(**values)
        return None

    def schema(self):
        return {"kind": "below", "option": self.option, "bound": self.bound, "message": self.message}


@dataclass(frozen=True)
class Component:
    name: str
    summary: str
    options: tuple
    view: object  # views.<fn>(inputs, **values): the JSON-ready dict the component shows
    state: tuple = ()  # reader-only parameters of the view (never written in markdown)
    rules: tuple = ()
    needs: str = ""  # a component that must come earlier on the page

    def option(self, name):
        return next(o for o in self.options + self.state if o.name == name)

    def defaults(self):
        return {o.name: o.default for o in self.options}

    def problems(self, values):
        """Every (option name or "", message) wrong with a complete set of values."""
        out = []
        for opt in self.options + self.state:
            if opt.name in values:
                why = opt.problem(values[opt.name])
                if why:
                    out.append((opt.name, f"option '{opt.name}' of '{self.name}' {why}"))
        if not out:
            out += [("", msg) for msg in (rule.problem(values) for rule in self.rules) if msg]
        return out

    def view_values(self, values, reader=False):
        """The view's arguments: defaults, then ``values`` (checked; ValueError if wrong).

        ``reader=True`` is a call from the page: only view options and state are accepted.
        """
        accepted = [o for o in self.options + self.state if o.view or not reader]
        known = {o.name for o in accepted}
        unknown = sorted(set(values) - known - {"needs"})
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r} for component '{self.name}'")
        full = {o.name: o.default for o in accepted}
        full.update({k: v for k, v in values.items() if k != "needs"})
        problems = self.problems(full)
        if problems:
            raise ValueError(_sentence(problems[0][1]))
        return {k: v for k, v in full.items() if self.option(k).view}

    def compute(self, inputs, values, reader=False):
        """Run the view: ``inputs`` gives the model input pixels and what the component needs."""
        return self.view(inputs, **self.view_values(values, reader))

    def fragment_problems(self, params, authored):
        """What is wrong with a URL fragment's state for an instance with ``authored`` options
        (the page's fragment.js accepts the same): a list of messages."""
        keyed = {o.fragment: o for o in self.options + self.state if o.fragment}
        values, out = dict(authored), []
        for key, text in params.items():
            opt = keyed.get(key)
            if opt is None:
                out.append(f"'{key}' is not a setting of {self.name} (its keys: {', '.join(keyed)})")
                continue
            whole = text.isascii() and text.isdigit() and len(text) <= 7  # as fragment.js reads it (/^\d{1,7}$/)
            value = text if opt.kind == "choice" else int(text) if whole else None
            why = "is not a whole number" if value is None else opt.problem(value)
            if not why and opt.control == "select" and value not in opt.offered_with(authored.get(opt.name, value)):
                why = f"is not offered by its control ({', '.join(map(str, opt.offered_with(authored[opt.name])))})"
            if why:
                out.append(f"{key}={text}: {opt.label.lower()} {why}")
            else:
                values[opt.name] = value
        if not out:
            out += [msg for msg in (rule.problem(values) for rule in self.rules) if msg]
        return out

    def schema(self):
        return {"name": self.name, "options": [o.schema() for o in self.options],
                "state": [o.schema() for o in self.state], "rules": [r.schema() for r in self.rules],
                "needs": self.needs}


def _num(x):
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    if isinstance(x, int) and x >= 10**6 and x != SEED_MAX:
        exponent = len(str(x)) - 1
        if x == 10**exponent:
            return f"10^{exponent}"
    if x == SEED_MAX:
        return "2^31−1"
    return str(x)


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _sentence(text):
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --------------------------------------------------------------------------- the declarations

STRATEGIES = tuple(Choice(name, title, family) for name, (title, family) in views.STRATEGIES.items())
FAMILIES = (("learned", "Learned (ViT)"), ("sinusoidal", "Sinusoidal"), ("2d", "2D-Aware"))

# The stepper's stages, in order: one numbering for the stepper, its tabs and the article.
STEPS = (
    Choice("input", "Input"),
    Choice("patch", "Patch"),
    Choice("project", "Project"),
    Choice("flatten", "Flatten"),
    Choice("addpos", "Add Pos"),
)
STEP_TITLES = {"input": "The input image", "patch": "Cutting the image into patches",
               "project": "The linear projection", "flatten": "A sequence, with [CLS] in front",
               "addpos": "Adding the positional embedding"}

# The digit ViTs of ``make train`` (tests/vit/train.py), as the weights file names them.
VIT_MODELS = tuple(Choice(name, label) for name, label in views.VIT_MODELS.items())

# How a learned table is resampled to a new grid (pe_engine.resample's methods).
RESAMPLING = (
    Choice("timm", "timm: bicubic, antialiased"),
    Choice("deit", "DeiT / MAE: bicubic"),
    Choice("jax", "JAX / big_vision: bilinear, corners aligned"),
)

SEED = Option("seed", "int", 0, "Seed", minimum=0, maximum=SEED_MAX, help="seed of every random table")

VIT_STEPPER = Component(
    name="vit-stepper",
    summary="the five steps (Input, Patch, Project, Flatten, Add Pos), the strategy choice, "
            "the PE heatmap, position similarity, sizes and presets, the reader's own image, technical details",
    options=(
        Option("image", "image", "images/astronaut.png", "Photograph", view=False,
               help="a PNG or JPEG in `content/`"),
        Option("image_alt", "text", "A photograph of astronaut Eileen Collins in an orange flight suit", "Image description",
               view=False, help="text: what the photograph shows"),
        Option("image_credit", "text", "Photo: astronaut Eileen Collins, NASA (public domain).", "Image credit",
               view=False,
               help="text: who made the photograph, and its licence"),
        Option("image_size", "int", 64, "Image size", minimum=8, maximum=384, offered=(32, 48, 64, 96, 128, 224, 384),
               control="select", unit="px", display="{} px", fragment="size", help="side of the square input"),
        Option("patch", "int", 16, "Patch size", minimum=2, maximum=64, offered=(4, 8, 14, 16, 32),
               control="select", unit="px", display="{} px", fragment="p", help="patch side P; must divide image_size"),
        Option("dim", "int", 8, "Embedding dimension", minimum=4, maximum=1280, multiple_of=4, control="number",
               fragment="d", help="embedding width D"),
        Option("strategy", "choice", "learned", "Positional embedding", choices=STRATEGIES, control="radio",
               fragment="pe"),
        Option("step", "choice", "input", "Step", choices=STEPS, control="tabs", view=False, fragment="step"),
        SEED,
    ),
    state=(
        Option("selected", "int", 5, "Selected patch", minimum=0, maximum=MAX_PATCHES - 1, fragment="patch"),
        Option("heatmap", "bool", True, "Include the heatmap"),
        Option("all_strategies", "bool", False, "Every strategy"),
    ),
    rules=(
        Divides("patch", "image_size", "patch size {patch} does not divide image size {image_size}"),
        PatchBudget("image_size", "patch", MAX_PATCHES,
                    "{patches} patches is more than this page draws (at most {limit}): use a larger patch "
                    "size or a smaller image"),
    ),
    view=views.vit_stepper,
)

RESOLUTION_CHANGE = Component(
    name="resolution-change",
    summary="a learned table resampled from G×G to G′×G′, beside fixed tables recomputed",
    options=(
        Option("from_grid", "int", 4, "Trained on", minimum=2, maximum=16, offered=tuple(range(2, 17)),
               control="select", display="{0} × {0} grid"),
        Option("to_grid", "int", 6, "Fine-tune resolution", minimum=2, maximum=24, offered=tuple(range(2, 25)),
               control="select", display="{0} × {0} grid"),
        Option("method", "choice", "timm", "Resampling", control="select", choices=RESAMPLING),
        Option("dim", "int", 8, "Embedding dimension", minimum=4, maximum=64, multiple_of=4),
        Option("channel", "int", 0, "Channel shown", minimum=0, maximum=63, control="number",
               help="the channel drawn as a picture; below dim"),
        SEED,
    ),
    rules=(Below("channel", "dim", "channel {channel} does not exist: the table has {dim} channels (0 to {dim} − 1)"),),
    view=views.resolution_change,
)

PERMUTATION_DEMO = Component(
    name="permutation-demo",
    summary="shuffle the patches through one attention layer, with and without PE",
    options=(),  # its tables and weights follow the stepper it needs (its seed too)
    state=(Option("shuffle_seed", "int", 1, "Shuffle", minimum=0, maximum=SEED_MAX),),
    needs="vit-stepper",
    view=views.permutation_demo,
)

RELATIVE_BIAS = Component(
    name="relative-bias",
    summary="Swin's relative position index and bias for one window",
    options=(
        Option("window", "int", 3, "Window", minimum=2, maximum=8),
        SEED,
    ),
    view=views.relative_bias,
)

ROPE_SHIFT = Component(
    name="rope-shift",
    summary="2D RoPE (rope-vit axial): q·k at every offset",
    options=(
        Option("grid", "int", 4, "Grid", minimum=2, maximum=8),
        Option("dim", "int", 8, "Head dimension", minimum=4, maximum=64, multiple_of=4),
        Option("base", "float", 100.0, "Base", minimum=1.0, maximum=1e6),
    ),
    view=views.rope_shift,
)

TRAINED_VIT = Component(
    name="trained-vit",
    summary="the digit ViT trained by `make train`: its learned table's position similarity beside the "
            "untrained and 2D sin-cos tables; a digit drawn or picked, classified live by every model, with "
            "its [CLS] attention; shuffled patches and bigger grids, on one digit and on the whole test set",
    options=(
        Option("weights", "file", "models/vit_digits.safetensors", "Weights", view=False,
               help="the weights file `make train` writes, in `content/`"),
        Option("record", "file", "models/vit_digits.json", "Training record", view=False,
               help="its JSON record, in `content/`"),
        Option("digit", "int", 0, "Test digit", minimum=0, maximum=359, control="number",
               help="the test image shown first; the test set has 360"),
        Option("grid", "int", 16, "Bigger grid", minimum=9, maximum=24, offered=(10, 12, 16, 20, 24),
               control="select", display="{0} × {0} grid", help="the grid the upsampled test images give"),
        Option("method", "choice", "timm", "Resampling of the learned table", control="select", choices=RESAMPLING),
    ),
    state=(
        Option("part", "choice", "all", "What to compute", choices=(
            Choice("all", "everything the build shows first"),
            Choice("similarity", "the position-similarity figures and measures"),
            Choice("digit", "one digit through every model"),
            Choice("accuracy", "one model on a run of test images"))),
        Option("drawing", "numbers", None, "Your drawing", minimum=0, maximum=255, length=32 * 32,
               help="a 32 × 32 grey drawing, ink 255 (None: the test digit)"),
        Option("input", "choice", "plain", "The models see", choices=(
            Choice("plain", "the digit"), Choice("shuffled", "its patches shuffled"),
            Choice("resized", "the digit upsampled to the bigger grid"))),
        Option("shuffle_seed", "int", 0, "Shuffle", minimum=0, maximum=SEED_MAX,
               help="seeded_permutation(64, seed) for a digit; image i of the test set gets seed + i"),
        Option("model", "choice", "learned", "Model", choices=VIT_MODELS),
        Option("test", "choice", "plain", "Test", choices=(
            Choice("plain", "the test set as it is"), Choice("shuffled", "every image's patches shuffled"),
            Choice("resized", "every image upsampled to the bigger grid"))),
        Option("recompute", "bool", True, "Recompute the sin-cos table for the bigger grid",
               help="false: resample it like a learned table"),
        Option("start", "int", 0, "First test image", minimum=0, maximum=359),
        Option("count", "int", 360, "Test images", minimum=1, maximum=360),
    ),
    view=views.trained_vit,
)

COMPONENTS = {c.name: c for c in (VIT_STEPPER, RESOLUTION_CHANGE, PERMUTATION_DEMO, RELATIVE_BIAS, ROPE_SHIFT,
                                  TRAINED_VIT)}


def get(name):
    """The component called ``name``; ValueError naming the known ones otherwise."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown component {name!r} (known: {', '.join(COMPONENTS)})")
    return COMPONENTS[name]


def schema(names=None):
    """What the page's scripts need to know, as JSON-ready data."""
    names = list(COMPONENTS) if names is None else [n for n in COMPONENTS if n in names]
    return {
        "components": {n: COMPONENTS[n].schema() for n in names},
        "steps": [{"value": s.value, "label": s.label, "number": i, "title": STEP_TITLES[s.value]}
                  for i, s in enumerate(STEPS, 1)],
        "families": [{"value": v, "label": label} for v, label in FAMILIES],
    }


def markdown_table():
    """The README's table of components and options (a test keeps the README equal to it)."""
    rows = ["| component | option | default | allowed |", "|---|---|---|---|"]
    for c in COMPONENTS.values():
        summary = f"`{c.name}` — {c.summary}" + (f" (needs a `{c.needs}` earlier on the page)" if c.needs else "")
        for i, o in enumerate(c.options):
            default = f"`{o.default}`" if o.kind != "text" else "see below" if len(str(o.default)) > 30 else f"`{o.default}`"
            if o.kind == "float":
                default = f"`{_num(o.default)}`"
            allowed = o.allowed() if o.kind != "choice" else ", ".join(f"`{ch.value}`" for ch in o.choices)
            if o.unit and o.kind in ("int", "float"):
                allowed += f" {o.unit}"
            if o.kind in ("int", "float") and o.help:
                allowed += f" ({o.help})"
            rows.append(f"| {summary if i == 0 else ''} | `{o.name}` | {default} | {allowed} |")
        for rule in c.rules:
            rows.append(f"| | *rule* | | {rule.message.format(**_placeholders(rule))} |")
    return "\n".join(rows)


def _placeholders(rule):
    names = {"patches": "N", "limit": str(getattr(rule, "limit", ""))}
    for key in ("divisor", "dividend", "image", "patch", "option", "bound"):
        if hasattr(rule, key):
            names[getattr(rule, key)] = f"`{getattr(rule, key)}`"
    return names


if __name__ == "__main__":
    print(markdown_table())
