// Swin's relative position bias (`relative-bias`): pairs with the same offset read the same
// table entry, so they get the same bias.
import { mountOffsetPairs } from "./offset-pairs.js";

export const mount = (root, data, engine) => mountOffsetPairs(root, data, engine, {
  side: data.options.window,
  pairFigures: ["index", "bias"],
  describe: (view, q, k) => `It reads table entry ${view.figures.index.data[0].z[q][k]}, a bias of ` +
    `${view.figures.bias.data[0].z[q][k].toFixed(4)}.`,
});
