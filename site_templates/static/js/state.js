// The one place for shared state. Modules read it with get(), change it with set(),
// and redraw in subscribe() callbacks; nothing else holds view state.

const listeners = new Set();
let state = {};

export function init(initial) {
  state = { ...initial };
}

export function get() {
  return state;
}

export function set(patch) {
  const changed = Object.keys(patch).filter((k) => state[k] !== patch[k]);
  if (!changed.length) return;
  state = { ...state, ...patch };
  for (const fn of listeners) fn(state, new Set(changed));
}

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
