// The worker that start.js (a classic script first in <head>) created before the article was
// parsed; its first messages wait in `early` until engine.js (via main.js) takes it over.
// Without start.js's worker (no runtime data, or no Worker), the engine starts its own.
export const { urls = null, early = null, boot = () => {} } = window.peBoot || {};
