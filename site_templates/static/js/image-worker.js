// Decodes an uploaded image off the main thread: a 40 MP photograph takes a few hundred
// milliseconds to decode, crop and resize, which would freeze the page if done there.
import { decodeSquare } from "./upload.js";

self.onmessage = async ({ data }) => {
  try {
    const rgb = await decodeSquare(data.blob, data.size, data.dims);
    self.postMessage({ rgb }, [rgb.buffer]);
  } catch (err) {
    self.postMessage({ error: String(err?.message || err) });
  }
};
