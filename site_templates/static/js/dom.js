// Small DOM helpers. Text goes in with textContent only: nothing from data or the URL
// is ever parsed as HTML.

export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

export function fmt(x, digits = 3) {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

// Same markup as the vec() macro in site_templates/components/_macros.html.
export function fillVector(node, values, { dims = null, total = null } = {}) {
  const cells = [];
  values.forEach((v, i) => {
    const last = i === values.length - 1;
    if (dims && total && last && dims.length < total && dims[dims.length - 1] !== i) {
      cells.push(el("span", { class: "cell ellipsis", "aria-hidden": "true", text: "…" }));
    }
    cells.push(el("span", { class: "cell", text: fmt(v) }));
  });
  node.replaceChildren(...cells);
}

export function setText(root, selector, text) {
  for (const node of root.querySelectorAll(selector)) node.textContent = String(text);
}
