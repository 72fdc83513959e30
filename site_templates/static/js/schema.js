// What a component accepts, read from its declaration in pe_engine/components.py (the build
// puts it in the page data as "schema"). The fragment parser and the parameter controls
// both ask here, so the page accepts exactly what the build and the engine accept.

export const option = (component, name) =>
  component.options.find((o) => o.name === name) || component.state.find((o) => o.name === name);

const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));

// Whether a control of this option can show `value`: a select offers `offered` (the build's
// list, with the author's value in it); a number field takes anything within the bounds.
export function accepts(opt, value, offered = null) {
  if (opt.kind === "choice") return opt.choices.some((c) => c.value === value);
  if (opt.kind !== "int" && opt.kind !== "float") return false;
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (opt.kind === "int" && !Number.isInteger(value)) return false;
  if (opt.control === "select" && offered) return offered.includes(value);
  return optionProblem(opt, value) === null;
}

// Why `value` is not allowed, as a sentence for a reader, or null.
export function optionProblem(opt, value) {
  if (opt.kind === "int" || opt.kind === "float") {
    if (!Number.isFinite(value) || (opt.kind === "int" && !Number.isInteger(value))) {
      return `${opt.label} must be a whole number.`;
    }
    if (value < opt.minimum || value > opt.maximum) return `${opt.label} must be between ${opt.minimum} and ${opt.maximum}.`;
    if (opt.multiple_of && value % opt.multiple_of) return `${opt.label} must be a multiple of ${opt.multiple_of}.`;
  } else if (opt.kind === "choice" && !opt.choices.some((c) => c.value === value)) {
    return `${opt.label} must be one of ${opt.choices.map((c) => c.label).join(", ")}.`;
  }
  return null;
}

// The component's rules (divisibility, the patch budget) on a complete set of values.
export function ruleProblems(component, values) {
  const out = [];
  for (const rule of component.rules) {
    if (rule.kind === "divides" && values[rule.dividend] % values[rule.divisor]) {
      out.push(sentence(format(rule.message, values)));
    } else if (rule.kind === "below" && values[rule.option] >= values[rule.bound]) {
      out.push(sentence(format(rule.message, values)));
    } else if (rule.kind === "patch_budget") {
      const patches = Math.floor(values[rule.image] / values[rule.patch]) ** 2;
      if (patches > rule.limit) out.push(sentence(format(rule.message, { ...values, patches, limit: rule.limit })));
    }
  }
  return out;
}

// Every problem with these values, options first (as the engine checks them).
export function problems(component, values) {
  const out = [];
  for (const [name, value] of Object.entries(values)) {
    const opt = option(component, name);
    const why = opt && optionProblem(opt, value);
    if (why) out.push(why);
  }
  return out.length ? out : ruleProblems(component, values);
}
