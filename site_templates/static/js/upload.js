// "Use your own image": a file picker and drag-and-drop. The image is checked by its
// first bytes, decoded and cropped/resized by the browser, and handed to the worker.
// It never leaves the page.

const MAX_BYTES = 20 * 1024 * 1024;
const MAX_PIXELS = 40_000_000;
const SIGNATURES = [
  ["PNG", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["JPEG", [0xff, 0xd8, 0xff]],
  ["GIF", [0x47, 0x49, 0x46, 0x38]],
];

export function sniff(bytes) {
  for (const [name, sig] of SIGNATURES) if (sig.every((b, i) => bytes[i] === b)) return name;
  const ascii = (a, b) => String.fromCharCode(...bytes.slice(a, b));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "WebP";
  return null;
}

// Width × height from the header, so a huge image is refused before it is decoded.
function headerSize(kind, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === "PNG" && bytes.length >= 24) return [view.getUint32(16), view.getUint32(20)];
  if (kind === "GIF" && bytes.length >= 10) return [view.getUint16(6, true), view.getUint16(8, true)];
  if (kind === "JPEG") {
    let i = 2;
    while (i + 9 < bytes.length) {
      if (bytes[i] !== 0xff) { i++; continue; }
      const marker = bytes[i + 1];
      const length = view.getUint16(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return [view.getUint16(i + 7), view.getUint16(i + 5)];
      }
      i += 2 + length;
    }
  }
  return null;
}

// Decodes a photograph to size×size RGB bytes (centre square, high-quality resize).
// With the size from the header, createImageBitmap crops and resizes as it decodes, so a
// 40 MP photograph never has to be drawn whole onto a canvas (~0.3 s of work).
export async function decodeSquare(blob, size, dims = null) {
  const options = { colorSpaceConversion: "none", premultiplyAlpha: "none" };
  let bitmap;
  if (dims && Math.min(...dims) > size) {
    const side = Math.min(...dims);
    bitmap = await createImageBitmap(blob, Math.floor((dims[0] - side) / 2), Math.floor((dims[1] - side) / 2), side, side,
                                     { ...options, resizeWidth: size, resizeHeight: size, resizeQuality: "high" });
  } else {
    bitmap = await createImageBitmap(blob, options);
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]; rgb[j + 1] = rgba[i + 1]; rgb[j + 2] = rgba[i + 2];
  }
  return rgb;
}

// decodeSquare in a short-lived worker (its memory goes when it ends); on the main thread
// only where module workers are missing.
export function decodeInWorker(blob, size, dims) {
  let worker;
  try {
    worker = new Worker(new URL("./image-worker.js", import.meta.url), { type: "module", name: "pe-image" });
  } catch {
    return decodeSquare(blob, size, dims);
  }
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve(data.rgb));
    worker.onerror = (e) => { e.preventDefault(); reject(new Error(e.message || "the image worker failed")); };
    worker.postMessage({ blob, size, dims });
  }).finally(() => worker.terminate());
}

export async function checkFile(file) {
  if (!file) throw new Error("No file was chosen.");
  if (file.size > MAX_BYTES) throw new Error(`"${file.name}" is ${(file.size / 1048576).toFixed(1)} MB; the limit is 20 MB.`);
  const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
  const kind = sniff(head);
  if (!kind) throw new Error(`"${file.name}" is not a PNG, JPEG, GIF or WebP image.`);
  const dims = headerSize(kind, head);
  if (dims && dims[0] * dims[1] > MAX_PIXELS) {
    throw new Error(`"${file.name}" is ${dims[0]} × ${dims[1]} pixels (${(dims[0] * dims[1] / 1e6).toFixed(0)} MP); the limit is 40 MP.`);
  }
  return dims;
}

export function mountUpload(root, data, engine, store) {
  const input = root.querySelector("[data-upload-input]");
  const zone = root.querySelector("[data-drop-zone]");
  const message = root.querySelector("[data-upload-message]");
  const reset = root.querySelector("[data-upload-reset]");
  const say = (text, kind = "info") => { message.textContent = text; message.dataset.kind = kind; };

  async function use(file) {
    try {
      if (engine.state !== "ready") throw new Error("The live engine is still starting; try again in a moment.");
      const dims = await checkFile(file);
      say(`Reading "${file.name}"…`);
      let pixels;
      try {
        pixels = await decodeInWorker(file, data.source_size, dims);
      } catch {
        throw new Error(`"${file.name}" could not be decoded: the file is damaged or not really an image.`);
      }
      await engine.setSource(pixels, data.source_size);
      store.set({ imageVersion: store.get().imageVersion + 1 });
      say(`Now showing "${file.name}" (centre square, resized in your browser).`);
      reset.hidden = false;
    } catch (err) {
      say(`${err.message} The previous image stays.`, "error");
    }
  }

  input.addEventListener("change", () => { use(input.files[0]); input.value = ""; });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.dataset.over = "true"; });
  zone.addEventListener("dragleave", () => { zone.dataset.over = "false"; });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.dataset.over = "false";
    use(e.dataTransfer.files[0]);
  });
  reset.addEventListener("click", async () => {
    await engine.setSource(await defaultPixels(data), data.source_size);
    store.set({ imageVersion: store.get().imageVersion + 1 });
    reset.hidden = true;
    say("Back to the astronaut.");
  });
}

// The build's photograph, decoded to the same bytes Pillow wrote.
export async function defaultPixels(data) {
  const response = await fetch(data.imageUrl);
  return decodeSquare(await response.blob(), data.source_size);
}
