// 2D RoPE scores by offset (`rope-shift`): drawn from the build's numbers, then recomputed
// once by the engine to show they agree.
import { mountFixedFigures } from "./fixed-figures.js";

export const mount = (root, data, engine) => mountFixedFigures(root, data, engine);
