// "Use your own image": a file picker and drag-and-drop. The image is checked by its
// header (its kind, and its size before anything is decoded), decoded and cropped/resized
// by the browser, and handed to the worker. It never leaves the page.

const SIGNATURES = [
  ["PNG", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["JPEG", [0xff, 0xd8, 0xff]],
  ["GIF", [0x47, 0x49, 0x46, 0x38]],
];
// How far the header parser goes before it gives up and refuses the file. It reads the
// file in windows of WINDOW bytes, only where it needs to look, so at most one window is
// held at a time.
const WINDOW = 64 * 1024;
const MAX_SCAN = 16 * 1024 * 1024;  // a JPEG frame header must start within this many bytes,
const MAX_MARKERS = 4096;           // and within this many markers (PNG eXIf: chunks)
const MAX_BLOCKS = 50_000;          // GIF blocks (extensions and frames), WebP chunks

export function sniff(bytes) {
  for (const [name, sig] of SIGNATURES) if (sig.every((b, i) => bytes[i] === b)) return name;
  const ascii = (a, b) => String.fromCharCode(...bytes.slice(a, b));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "WebP";
  return null;
}

// ---- reading the size from the header

// A file read in windows: at(pos, n) gives the bytes from pos to the end of the window
// (at least n of them, unless the file ends first).
class FileBytes {
  constructor(blob) { this.blob = blob; this.size = blob.size; this.start = 0; this.bytes = new Uint8Array(0); }

  async at(pos, n = 1) {
    const end = Math.min(pos + n, this.size);
    if (pos < this.start || end > this.start + this.bytes.length) {
      const stop = Math.min(this.size, pos + Math.max(n, WINDOW));
      this.bytes = pos < stop ? new Uint8Array(await this.blob.slice(pos, stop).arrayBuffer()) : new Uint8Array(0);
      this.start = pos;
    }
    return this.bytes.subarray(pos - this.start);
  }
}

const text = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));
const u16le = (b, i) => b[i] | (b[i + 1] << 8);
const u16be = (b, i) => (b[i] << 8) | b[i + 1];
const u24le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
const u32le = (b, i) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const u32be = (b, i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const max2 = (a, b) => [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
const sized = (dims, extent = dims) => (dims[0] > 0 && dims[1] > 0 ? { dims, extent: max2(dims, extent) } : null);

// Each parser gives { dims, extent } or null when the size cannot be read. dims is the
// size the browser decodes to (what the centre crop is computed from); extent is the
// largest size any part of the file asks for, which the limit applies to.
const PARSERS = { PNG: pngSize, JPEG: jpegSize, GIF: gifSize, WebP: webpSize };

// PNG: IHDR must be the first chunk (13 bytes: width, height, ...). The browser turns the
// picture by the orientation in the first eXIf chunk before the image data, so the chunks
// before IDAT are walked for that (within the JPEG bounds; past them, no turn is assumed).
async function pngSize(src) {
  const b = await src.at(0, 24);
  if (b.length < 24 || u32be(b, 8) !== 13 || text(b, 12, 4) !== "IHDR") return null;
  const size = [u32be(b, 16), u32be(b, 20)];
  let orientation = 1;
  for (let pos = 33, chunks = 0; pos < MAX_SCAN && chunks < MAX_MARKERS; chunks++) {
    const c = await src.at(pos, 8);
    if (c.length < 8 || text(c, 4, 4) === "IDAT") break;
    const length = u32be(c, 0);
    if (text(c, 4, 4) === "eXIf") {
      if (length <= WINDOW) orientation = exifOrientation((await src.at(pos + 8, length)).subarray(0, length)) || 1;
      break;
    }
    pos += 12 + length;
  }
  return sized(turned(size, orientation));
}

// EXIF orientations 5 to 8 turn the picture a quarter: the browser swaps the sides.
const turned = ([width, height], orientation) => (orientation >= 5 ? [height, width] : [width, height]);

// JPEG: the markers are walked as libjpeg walks them, to the image data (SOS): bytes before
// an 0xFF and fill bytes 0xFF are skipped (so is 0xFF 0x00), RSTn and TEM have no length,
// every other marker is followed by its length. The first frame header (SOFn) has the
// size; the first EXIF segment before SOS, the orientation. No frame header before SOS or
// the end (EOI), or within the bounds, means no size.
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

async function jpegSize(src) {
  let frame = null;
  let orientation = 0;
  const result = () => frame && sized(turned(frame, orientation));
  let pos = 2;
  for (let markers = 0; markers < MAX_MARKERS; markers++) {
    let marker = -1;
    while (marker < 0) {
      if (pos >= MAX_SCAN) return result();
      const b = await src.at(pos, 2);
      if (b.length < 2) return result();
      let i = 0;
      while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] !== 0xff && b[i + 1] !== 0x00)) i++;
      if (i + 1 < b.length) marker = b[i + 1];
      pos += i;
    }
    pos += 2;  // past 0xFF and the marker
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) return result();
    const b = await src.at(pos, 8);
    if (b.length < 2) return result();
    const length = u16be(b, 0);
    if (length < 2) return result();
    if (SOF.has(marker) && !frame) {
      if (b.length < 7 || length < 7) return null;
      frame = [u16be(b, 5), u16be(b, 3)];  // the frame header: length, precision, height, width
    } else if (marker === 0xe1 && !orientation && length >= 16 && text(b, 2, 6) === "Exif\0\0") {
      orientation = exifOrientation((await src.at(pos + 8, length - 8)).subarray(0, length - 8)) || 1;
    }
    pos += length;
  }
  return result();
}

// The Orientation tag (0x0112) of IFD0 in a TIFF structure, or 0.
function exifOrientation(t) {
  const little = text(t, 0, 2) === "II";
  if (!little && text(t, 0, 2) !== "MM") return 0;
  const u16 = (i) => (little ? u16le(t, i) : u16be(t, i));
  const u32 = (i) => (little ? u32le(t, i) : u32be(t, i));
  if (t.length < 8 || u16(2) !== 42) return 0;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 0;
  for (let k = 0, n = u16(ifd); k < n; k++) {
    const e = ifd + 2 + 12 * k;
    if (e + 12 > t.length) return 0;
    if (u16(e) === 0x0112) {
      const value = u16(e + 8);
      return u16(e + 2) === 3 && value >= 1 && value <= 8 ? value : 0;
    }
  }
  return 0;
}

// GIF: the logical screen, then every block to the trailer. Extensions and image data are
// runs of sub-blocks (a length byte, then that many bytes) ending with a zero length. The
// browser enlarges the screen to the first frame; the limit counts every frame.
async function gifSize(src) {
  const b = await src.at(0, 13);
  if (b.length < 13) return null;
  const screen = [u16le(b, 6), u16le(b, 8)];
  let dims = null;
  let extent = screen;
  let pos = 13 + (b[10] & 0x80 ? 3 << ((b[10] & 7) + 1) : 0);
  for (let blocks = 0; ; blocks++) {
    if (blocks >= MAX_BLOCKS) return null;
    const c = await src.at(pos, 10);
    if (c.length && c[0] === 0x21) {  // an extension: label, then sub-blocks
      pos = await skipSubBlocks(src, pos + 2);
      continue;
    }
    // The trailer, the end of the file, or anything else ends the image, as browsers read it.
    if (c.length < 10 || c[0] !== 0x2c) break;
    const frame = [u16le(c, 1) + u16le(c, 5), u16le(c, 3) + u16le(c, 7)];
    dims ??= max2(screen, frame);
    extent = max2(extent, frame);
    pos += 10 + (c[9] & 0x80 ? 3 << ((c[9] & 7) + 1) : 0) + 1;  // local colour table, LZW code size
    pos = await skipSubBlocks(src, pos);
  }
  return sized(dims ?? screen, extent);
}

async function skipSubBlocks(src, pos) {
  for (;;) {
    const b = await src.at(pos, 1);
    if (!b.length) return pos;
    let i = 0;
    while (i < b.length && b[i] !== 0) i += 1 + b[i];
    if (i < b.length) return pos + i + 1;
    pos += i;
  }
}

// WebP (RIFF container): the first chunk says which format. VP8 (lossy): a key frame
// header, the start code 9d 01 2a, then 14-bit width and height. VP8L (lossless): the
// signature 0x2f, then width − 1 and height − 1 in 14 bits each, and a version of 0.
// VP8X (extended): the canvas, width − 1 and height − 1 in 24 bits each; the other chunks
// are walked too, and every image in them (still, or an animation frame at its offset)
// counts towards the limit.
function bitstreamSize(fourcc, p, length) {
  if (fourcc === "VP8L") {
    if (length < 5 || p.length < 5 || p[0] !== 0x2f || p[4] >> 5 !== 0) return null;
    const bits = u32le(p, 1);
    return [(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1];
  }
  if (length < 10 || p.length < 10 || (p[0] & 1) !== 0 || p[3] !== 0x9d || p[4] !== 0x01 || p[5] !== 0x2a) return null;
  const size = [u16le(p, 6) & 0x3fff, u16le(p, 8) & 0x3fff];
  return size[0] && size[1] ? size : null;
}

async function webpSize(src) {
  const b = await src.at(0, 30);
  if (b.length < 20) return null;
  const first = text(b, 12, 4);
  if (first === "VP8 " || first === "VP8L") {
    const size = bitstreamSize(first, b.subarray(20), u32le(b, 16));
    return size && sized(size);
  }
  if (first !== "VP8X" || u32le(b, 16) < 10 || b.length < 30) return null;
  const canvas = [u24le(b, 24) + 1, u24le(b, 27) + 1];
  const end = Math.min(src.size, 8 + u32le(b, 4));
  let extent = canvas;
  let chunks = 0;
  // Walks the chunks in [pos, end): the file's, or an animation frame's (placed at x, y).
  async function walk(pos, end, x = 0, y = 0, inFrame = false) {
    while (pos + 8 <= end) {
      if (++chunks > MAX_BLOCKS) return false;
      const c = await src.at(pos, 8 + 16);
      if (c.length < 8) return true;
      const fourcc = text(c, 0, 4), length = u32le(c, 4);
      const payload = pos + 8;
      if (fourcc === "VP8 " || fourcc === "VP8L") {
        const size = bitstreamSize(fourcc, await src.at(payload, 10), length);
        if (!size) return false;
        extent = max2(extent, [x + size[0], y + size[1]]);
      } else if (fourcc === "ANMF" && !inFrame) {
        if (length < 16 || c.length < 24) return false;
        const f = c.subarray(8);
        const fx = 2 * u24le(f, 0), fy = 2 * u24le(f, 3);
        extent = max2(extent, [fx + u24le(f, 6) + 1, fy + u24le(f, 9) + 1]);
        if (!(await walk(payload + 16, Math.min(end, payload + length), fx, fy, true))) return false;
      }
      pos = payload + length + (length & 1);
    }
    return true;
  }
  return (await walk(12, end)) ? sized(canvas, extent) : null;
}

// The file's kind and size: { kind, dims, extent }; kind is null for a file of no kind the
// page takes, dims and extent are null when the size cannot be read from the file.
export async function readImageSize(blob) {
  const src = new FileBytes(blob);
  const kind = sniff(await src.at(0, 16));
  const size = kind ? await PARSERS[kind](src) : null;
  return { kind, dims: size?.dims ?? null, extent: size?.extent ?? null };
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

// The size the browser will decode the file to, read from its header before anything is
// decoded; throws a sentence for the reader if the file is too big, is not an image of a
// kind the page takes, or gives no size that can be read.
// limits: { bytes, pixels }, the build's (build.py Limits: image_bytes, image_pixels).
export async function checkFile(file, limits) {
  if (!file) throw new Error("No file was chosen.");
  const mb = (bytes) => `${(bytes / 1048576).toFixed(bytes % 1048576 ? 1 : 0)} MB`;
  if (file.size > limits.bytes) throw new Error(`"${file.name}" is ${mb(file.size)}; the limit is ${mb(limits.bytes)}.`);
  const unreadable = new Error(`"${file.name}": its size could not be read from the file, so it was not opened.`);
  const { kind, dims, extent } = await readImageSize(file).catch(() => { throw unreadable; });
  if (!kind) throw new Error(`"${file.name}" is not a PNG, JPEG, GIF or WebP image.`);
  if (!extent) throw unreadable;
  const [width, height] = extent;
  if (width * height > limits.pixels) {
    throw new Error(`"${file.name}" is ${width} × ${height} pixels (${(width * height / 1e6).toFixed(0)} MP); the limit is ${limits.pixels / 1e6} MP.`);
  }
  return dims;
}

export function mountUpload(root, data, engine, store) {
  const input = root.querySelector("[data-upload-input]");
  const zone = root.querySelector("[data-drop-zone]");
  const message = root.querySelector("[data-upload-message]");
  const reset = root.querySelector("[data-upload-reset]");
  const say = (text, kind = "info") => { message.textContent = text; message.dataset.kind = kind; };

  let latest = 0; // the newest file (or reset) asked for: an older, slower decode never replaces it
  async function use(file) {
    const mine = ++latest;
    try {
      if (engine.state !== "ready") throw new Error("The live engine is still starting; try again in a moment.");
      const dims = await checkFile(file, data.image_limits);
      say(`Reading "${file.name}"…`);
      let pixels;
      try {
        pixels = await decodeInWorker(file, data.source_size, dims);
      } catch {
        throw new Error(`"${file.name}" could not be decoded: the file is damaged or not really an image.`);
      }
      if (mine !== latest) return;
      await engine.setSource(pixels, data.source_size);
      store.set({ imageVersion: store.get().imageVersion + 1, imageName: file.name });
      say(`Now showing "${file.name}" (centre square, resized in your browser).`);
      reset.hidden = false;
    } catch (err) {
      if (mine === latest) say(`${err.message} The previous image stays.`, "error");
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
    const mine = ++latest;
    try {
      const pixels = await defaultPixels(data);
      if (mine !== latest) return;
      await engine.setSource(pixels, data.source_size);
      store.set({ imageVersion: store.get().imageVersion + 1, imageName: null });
      reset.hidden = true;
      say("Back to the original image.");
    } catch (err) {
      if (mine === latest) say(`The original image could not be restored (${err.message}). Reload the page to get it back.`, "error");
    }
  });
}

// The build's photograph, decoded to the same bytes Pillow wrote.
export async function defaultPixels(data) {
  const response = await fetch(data.imageUrl);
  if (!response.ok) throw new Error(`the photograph answered HTTP ${response.status}`);
  return decodeSquare(await response.blob(), data.source_size);
}
