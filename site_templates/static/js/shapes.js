// The outline shapes of pe_engine/figures.py (cell_outline, the selection row), for marks the
// page adds while the reader moves: the same dicts the engine makes.
export function cell_outline(row, col, name = "selection") {
  return { type: "rect", name, xref: "x", yref: "y", x0: col - 0.5, x1: col + 0.5, y0: row - 0.5, y1: row + 0.5,
           line: { width: name === "selection" ? 3 : 2 }, fillcolor: "rgba(0,0,0,0)" };
}

export function row_outline(row, width, name = "selection") {
  return { type: "rect", name, xref: "x", yref: "y", x0: -0.5, x1: width - 0.5, y0: row - 0.5, y1: row + 0.5,
           line: { width: name === "selection" ? 3 : 2 }, fillcolor: "rgba(0,0,0,0)" };
}

export function box(x0, x1, y0, y1, name) {
  return { type: "rect", name, xref: "x", yref: "y", x0, x1, y0, y1, line: { width: 2 }, fillcolor: "rgba(0,0,0,0)" };
}
