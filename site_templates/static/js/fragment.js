// The shareable view lives in the URL fragment, after an optional section anchor:
//   #resolution&step=addpos&pe=sincos2d&patch=5&size=64&p=16&d=8
// The keys are the options' "fragment" names in the component's schema; every value is
// checked as its control would check it (schema.js), anything else falls back to the
// default. A fragment without state keys is a plain anchor: it changes nothing here.
// Values are only compared or parsed as integers, never put into the page as HTML.
import { accepts, option, ruleProblems } from "./schema.js";

const keyed = (component) => [...component.options, ...component.state].filter((o) => o.fragment);

// "#anchor&a=1&b=2" -> { anchor: "anchor", params: URLSearchParams("a=1&b=2") }
export function split(hash) {
  const text = String(hash || "").replace(/^#/, "");
  const parts = text.split("&");
  const anchor = parts[0] && !parts[0].includes("=") ? parts.shift() : "";
  let params;
  try {
    params = new URLSearchParams(parts.join("&"));
  } catch {
    params = new URLSearchParams();
  }
  let decoded = anchor;
  try {
    decoded = decodeURIComponent(anchor);
  } catch { /* keep it as it is */ }
  return { anchor: decoded, params };
}

export function hasState(hash, component) {
  const { params } = split(hash);
  return keyed(component).some((o) => params.has(o.fragment));
}

function read(opt, text, offered) {
  if (text === null) return undefined;
  if (opt.kind === "choice") return accepts(opt, text) ? text : undefined;
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const value = Number(text);
  return accepts(opt, value, offered) ? value : undefined;
}

// The state a fragment asks for, on top of `defaults`. `controls` are the values each
// select offers (from the build), `sizes` the options that set the patch grid.
export function parse(hash, component, controls, defaults) {
  const { params } = split(hash);
  const out = { ...defaults };
  for (const opt of keyed(component)) {
    if (opt.name === "selected") continue; // depends on the grid: below
    const value = read(opt, params.get(opt.fragment), controls[opt.name]);
    if (value !== undefined) out[opt.name] = value;
  }
  // An impossible combination falls back to the defaults' values as a whole.
  if (ruleProblems(component, out).length) {
    for (const rule of component.rules) {
      for (const key of [rule.divisor, rule.dividend, rule.image, rule.patch]) if (key) out[key] = defaults[key];
    }
  }
  const selected = option(component, "selected");
  if (selected) {
    const n = gridCells(component, out);
    const value = read(selected, params.get(selected.fragment), null);
    out.selected = value !== undefined && value < n ? value : Math.min(defaults.selected, n - 1);
  }
  return out;
}

// Patches in the grid the values describe (the patch-budget rule names its options).
export function gridCells(component, values) {
  const rule = component.rules.find((r) => r.kind === "patch_budget");
  return rule ? Math.floor(values[rule.image] / values[rule.patch]) ** 2 : Infinity;
}

export function serialize(state, component, anchor = "") {
  const params = new URLSearchParams();
  for (const opt of keyed(component)) if (state[opt.name] !== undefined) params.set(opt.fragment, String(state[opt.name]));
  return "#" + (anchor ? encodeURIComponent(anchor) + "&" : "") + params.toString();
}
