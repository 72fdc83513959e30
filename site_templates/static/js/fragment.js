// The shareable view lives in the URL fragment, e.g. #step=addpos&pe=sincos2d&patch=5&size=64&p=16&d=8.
// Every value is checked against a whitelist or a range; anything else falls back to the
// default. Values are only ever compared or parsed as integers, never put into the page as HTML.

export const STEPS = ["input", "patch", "project", "flatten", "addpos"];
export const STRATEGIES = ["learned", "sinusoidal", "sincos2d", "learned2d"];
export const IMAGE_SIZES = [32, 48, 64, 96, 128, 224, 384];
export const PATCH_SIZES = [4, 8, 14, 16, 32];

const KEYS = { step: "step", strategy: "pe", selected: "patch", image_size: "size", patch: "p", dim: "d" };

function intIn(text, lo, hi) {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= lo && n <= hi ? n : null;
}

export function parse(hash, defaults) {
  const out = { ...defaults };
  let params;
  try {
    params = new URLSearchParams(String(hash || "").replace(/^#/, ""));
  } catch {
    return out;
  }
  const step = params.get(KEYS.step);
  if (STEPS.includes(step)) out.step = step;
  const strategy = params.get(KEYS.strategy);
  if (STRATEGIES.includes(strategy)) out.strategy = strategy;
  const size = intIn(params.get(KEYS.image_size) ?? "", 1, 9999);
  if (IMAGE_SIZES.includes(size)) out.image_size = size;
  const patch = intIn(params.get(KEYS.patch) ?? "", 1, 9999);
  if (PATCH_SIZES.includes(patch)) out.patch = patch;
  const dim = intIn(params.get(KEYS.dim) ?? "", 4, 1280);
  if (dim !== null && dim % 4 === 0) out.dim = dim;
  // An impossible combination falls back to the defaults' sizes as a whole.
  if (out.image_size % out.patch !== 0 || (out.image_size / out.patch) ** 2 > 1024) {
    out.image_size = defaults.image_size;
    out.patch = defaults.patch;
  }
  const n = (out.image_size / out.patch) ** 2;
  const selected = intIn(params.get(KEYS.selected) ?? "", 0, 99999);
  out.selected = selected !== null && selected < n ? selected : Math.min(defaults.selected, n - 1);
  return out;
}

export function serialize(state) {
  const params = new URLSearchParams();
  for (const [field, key] of Object.entries(KEYS)) params.set(key, String(state[field]));
  return "#" + params.toString();
}
