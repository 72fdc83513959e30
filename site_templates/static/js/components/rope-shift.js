// 2D RoPE scores (`rope-shift`): after the rotations, q·k depends only on the offset.
import { mountOffsetPairs } from "./offset-pairs.js";

export const mount = (root, data, engine) => mountOffsetPairs(root, data, engine, {
  side: data.options.grid,
  pairFigures: ["scores"],
  describe: (view, q, k) => `Its score is q·k = ${view.figures.scores.data[0].z[q][k].toFixed(4)}, as for every pair at this offset.`,
});
