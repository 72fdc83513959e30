// The one place for a component's shared state. Modules read it with get(), change it with
// set(), and redraw in subscribe() callbacks; nothing else holds view state. One store per
// component instance, so two steppers on a page never share or reset each other's state.

export function createStore(initial = {}) {
  const listeners = new Set();
  let state = { ...initial };
  return {
    get: () => state,
    set(patch) {
      const changed = Object.keys(patch).filter((k) => state[k] !== patch[k]);
      if (!changed.length) return;
      state = { ...state, ...patch };
      for (const fn of listeners) fn(state, new Set(changed));
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
