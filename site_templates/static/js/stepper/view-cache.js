// The stepper's numbers, by configuration: the build's first view until the engine is
// ready, then the worker's (each strategy part remembers where its numbers came from).
// One request per view at a time; with the engine live, the other strategies of the view
// on screen are computed in the background, so that switching strategy only has to draw.

export const configKey = (s) => `${s.image_size}/${s.patch}/${s.dim}/${s.seed}/${s.imageVersion}`;
const hasPatch = (entry, part, k) => entry.tokens[k] && entry.x_preview[k] && part.z0[k] && part.similarity[k];

export class ViewCache {
  constructor(firstView, firstKey, engine, strategies) {
    this.engine = engine;
    this.strategies = strategies;
    this.entries = new Map();
    this.inflight = new Map();
    const entry = { ...firstView, source: "build" };
    for (const part of Object.values(entry.strategies)) part.source = "build";
    this.entries.set(firstKey, entry);
  }

  async get(s, options = {}) {
    const key = `${configKey(s)}/${s.strategy}/${s.selected}`;
    while (this.inflight.has(key)) await this.inflight.get(key).catch(() => {});
    const request = this.fetch(s, options);
    this.inflight.set(key, request);
    try {
      return await request;
    } finally {
      this.inflight.delete(key);
    }
  }

  // Computes the other strategies of `s` while `isCurrent()` holds.
  async prefetch(s, isCurrent) {
    for (const strategy of this.strategies) {
      if (!isCurrent() || this.engine.state !== "ready") return;
      if (strategy === s.strategy) continue;
      try {
        await this.get({ ...s, strategy });
      } catch {
        return;
      }
    }
  }

  async fetch(s, { heatmapNeeded = true } = {}) {
    const key = configKey(s);
    let entry = this.entries.get(key);
    const part = entry?.strategies[s.strategy];
    const live = this.engine.state === "ready";
    const fresh = part && (!live || part.source === "pyodide") && hasPatch(entry, part, s.selected)
      && (!heatmapNeeded || part.figures.heatmap);
    if (fresh) return entry;
    if (!live) {
      if (entry && part && hasPatch(entry, part, s.selected)) return entry;
      throw new Error("The live engine is still starting.");
    }
    const result = await this.engine.call("vit-stepper", {
      image_size: s.image_size, patch: s.patch, dim: s.dim, seed: s.seed,
      strategy: s.strategy, selected: s.selected, heatmap: heatmapNeeded || !part?.figures.heatmap,
    });
    if (!entry || entry.source === "build") {
      entry = { ...result, strategies: { ...(entry?.source === "pyodide" ? entry.strategies : {}) }, source: "pyodide" };
      this.entries.set(key, entry);
    } else {
      Object.assign(entry.tokens, result.tokens);
      Object.assign(entry.x_preview, result.x_preview);
    }
    const freshPart = { ...result.strategies[s.strategy], source: "pyodide" };
    const old = entry.strategies[s.strategy];
    if (old && old.source === "pyodide") {
      Object.assign(old.z0, freshPart.z0);
      Object.assign(old.similarity, freshPart.similarity);
      Object.assign(old.similarity_range, freshPart.similarity_range);
      old.figures.similarity = freshPart.figures.similarity;
      if (freshPart.figures.heatmap) old.figures.heatmap = freshPart.figures.heatmap;
    } else entry.strategies[s.strategy] = freshPart;
    if (this.entries.size > 6) this.entries.delete(this.entries.keys().next().value);
    return entry;
  }
}
