"""Image files for the upload tests (issue 15, item 9), built as bytes: hostile files whose
header declares far more pixels than the page allows, and ordinary files the header parser
must accept. Shared by the Node unit test (tests/test_upload_headers_unit.py) and the
browser test (tests/e2e/test_upload_headers.py); nothing binary is committed.

Layouts: RIFF/WebP container (VP8, VP8L, VP8X, ANMF chunks), JPEG markers (ITU T.81
annex B), GIF89a blocks, PNG chunks.
"""
import functools
import io
import struct

from PIL import Image

# --------------------------------------------------------------------------- WebP


class _Bits:
    """An LSB-first bit writer, as VP8L reads its bits."""

    def __init__(self):
        self.value, self.count = 0, 0

    def put(self, value: int, n: int):
        self.value |= (value & ((1 << n) - 1)) << self.count
        self.count += n

    def bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8, "little")


def vp8l(width: int, height: int, argb=(255, 90, 160, 220)) -> bytes:
    """A valid lossless bitstream of one colour at any size: no transforms, no colour cache,
    and five one-symbol prefix codes, so every pixel costs zero bits (a 16383 × 16383 image
    in 10 bytes, which libwebp decodes in full)."""
    b = _Bits()
    b.put(0x2F, 8)
    b.put(width - 1, 14)
    b.put(height - 1, 14)
    b.put(1, 1)  # alpha is used
    b.put(0, 3)  # version 0
    b.put(0, 1)  # no transform
    b.put(0, 1)  # no colour cache
    b.put(0, 1)  # no meta prefix codes
    a, r, g, bl = argb
    for symbol in (g, r, bl, a, 0):  # green, red, blue, alpha, distance
        b.put(1, 1)  # simple code
        b.put(0, 1)  # one symbol
        if symbol < 2:
            b.put(0, 1)
            b.put(symbol, 1)
        else:
            b.put(1, 1)
            b.put(symbol, 8)
    return b.bytes()


def chunk(fourcc: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: FourCC, little-endian payload size, payload, a pad byte if odd."""
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def riff_webp(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def u24(v: int) -> bytes:
    return struct.pack("<I", v)[:3]


def vp8x_header(width: int, height: int, flags: int = 0) -> bytes:
    """The VP8X chunk: flags, 3 reserved bytes, canvas width − 1 and height − 1 in 24 bits."""
    return chunk(b"VP8X", bytes([flags, 0, 0, 0]) + u24(width - 1) + u24(height - 1))


def anmf(x: int, y: int, width: int, height: int, frame_chunks: bytes, duration: int = 100) -> bytes:
    """An animation frame: X/2, Y/2, width − 1, height − 1, duration (24 bits each), flags."""
    return chunk(b"ANMF", u24(x // 2) + u24(y // 2) + u24(width - 1) + u24(height - 1)
                 + u24(duration) + b"\0" + frame_chunks)


def webp_vp8l(width: int, height: int) -> bytes:
    """A simple-format lossless WebP (30 bytes for any size)."""
    return riff_webp(chunk(b"VP8L", vp8l(width, height)))


def webp_vp8x(width: int, height: int) -> bytes:
    """An extended-format WebP: a VP8X canvas and a lossless image of the same size."""
    return riff_webp(vp8x_header(width, height, flags=0x10), chunk(b"VP8L", vp8l(width, height)))


def webp_vp8x_animated(canvas, frames, flags=0x12) -> bytes:
    """An animated WebP: canvas (w, h) and frames [(x, y, w, h), ...], each a VP8L image."""
    body = [vp8x_header(*canvas, flags=flags), chunk(b"ANIM", b"\0\0\0\0\0\0")]
    body += [anmf(x, y, w, h, chunk(b"VP8L", vp8l(w, h))) for x, y, w, h in frames]
    return riff_webp(*body)


def webp_vp8_header(width: int, height: int) -> bytes:
    """A simple-format lossy WebP whose key-frame header declares width × height (the frame
    tag, the start code 9d 01 2a, 14-bit sizes at file offsets 26 and 28); no image data."""
    frame_tag = (0 | (0 << 1) | (1 << 4) | (0 << 5)).to_bytes(3, "little")  # key frame, shown
    return riff_webp(chunk(b"VP8 ", frame_tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
                           + b"\0" * 8))


def pillow_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def picture(width: int, height: int) -> Image.Image:
    """An RGB picture with some structure (gradients), so encoders do real work."""
    im = Image.new("RGB", (width, height))
    im.putdata([((x * 255) // max(1, width - 1), (y * 255) // max(1, height - 1), (x ^ y) & 255)
                for y in range(height) for x in range(width)])
    return im


def centre_marked(width: int, height: int, centre=(220, 40, 40), border=(30, 60, 200)) -> Image.Image:
    """``border`` everywhere but a centred square of side min(width, height) in ``centre``:
    the page shows the centre square, so its model input must be all ``centre``."""
    im = Image.new("RGB", (width, height), border)
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    im.paste(Image.new("RGB", (side, side), centre), (x0, y0))
    return im


# --------------------------------------------------------------------------- JPEG


def jpeg_segments(data: bytes):
    """(offset, marker, length) of each marker segment before the first SOS."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, f"not a marker at {pos}"
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        out.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def sof_offset(data: bytes) -> int:
    return next(p for p, m, _ in jpeg_segments(data) if m in (0xC0, 0xC1, 0xC2))


def app_segment(marker: int, payload: bytes) -> bytes:
    assert len(payload) <= 65533
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def xmp_segments(total: int) -> bytes:
    """APP1 XMP packets (standard, then extended ones) of about ``total`` bytes in all, the
    shape of the metadata a camera or an editor writes before the frame header."""
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    out = [app_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + packet + b" " * 2000)]
    done = len(out[0])
    while done < total:
        body = b"http://ns.adobe.com/xmp/extension/\0" + b"0" * 32 + struct.pack(">II", total, done)
        seg = app_segment(0xE1, body + b" " * min(60000, total - done))
        out.append(seg)
        done += len(seg)
    return b"".join(out)


def icc_segments(count: int, size: int = 60000) -> bytes:
    """``count`` APP2 ICC_PROFILE chunks of ``size`` bytes (a large profile split up)."""
    return b"".join(app_segment(0xE2, b"ICC_PROFILE\0" + bytes([i + 1, count]) + b"\0" * size)
                    for i in range(count))


def jpeg_with_metadata_first(data: bytes, metadata: bytes, size=None) -> bytes:
    """``data`` with ``metadata`` segments inserted right after SOI/APP0 (so the frame header
    moves back by their length), and the frame header's size replaced by ``size``."""
    segments = jpeg_segments(data)
    first = segments[0]
    cut = first[0] + 2 + first[2] if first[1] == 0xE0 else 2
    out = bytearray(data[:cut] + metadata + data[cut:])
    if size is not None:
        sof = sof_offset(bytes(out))
        out[sof + 5:sof + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(out)


def exif_bytes(orientation: int = 1, extra=None) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Test camera"
    for tag, value in (extra or {}).items():
        exif[tag] = value
    return exif.tobytes()


# --------------------------------------------------------------------------- GIF


def gif_frame_beyond_screen(screen=(1, 1), frame=(0, 0, 8000, 8000)) -> bytes:
    """A GIF whose logical screen is ``screen`` and whose one frame, of one colour, is
    (left, top, width, height) = ``frame`` (8000 × 8000 compresses to 48 KB)."""
    im = Image.new("P", frame[2:], 1)
    im.putpalette([0, 0, 0, 250, 200, 20] + [0] * 762)
    data = bytearray(pillow_bytes(im, "GIF"))
    struct.pack_into("<HH", data, 6, *screen)
    descriptor = gif_descriptor_offsets(bytes(data))[0]
    struct.pack_into("<HHHH", data, descriptor + 1, *frame)
    return bytes(data)


def gif_descriptor_offsets(data: bytes):
    """Offsets of the image descriptors (0x2C), found by walking the blocks."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    found = []

    def skip_sub_blocks(p):
        while data[p]:
            p += 1 + data[p]
        return p + 1

    while pos < len(data) and data[pos] != 0x3B:
        if data[pos] == 0x21:
            pos = skip_sub_blocks(pos + 2)
        elif data[pos] == 0x2C:
            found.append(pos)
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
            pos = skip_sub_blocks(pos)
        else:
            break
    return found


def gif_animated(size=(120, 90), frames=6) -> bytes:
    images = [Image.new("RGB", size, ((40 * i) % 256, 120, 200 - 20 * i)) for i in range(frames)]
    for i, im in enumerate(images):
        im.paste((250, 250, 250), (i * 10, i * 5, i * 10 + 30, i * 5 + 20))
    return pillow_bytes(images[0], "GIF", save_all=True, append_images=images[1:], duration=80, loop=0,
                        comment=b"made for the upload test")


# --------------------------------------------------------------------------- PNG


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_ihdr_not_first(size=(16383, 16383)) -> bytes:
    """A PNG whose first chunk is a tEXt, with an IHDR of ``size`` after it."""
    ihdr = struct.pack(">IIBBBBB", *size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"Comment\0first") + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------- the cases

MB = 1024 * 1024


@functools.lru_cache(maxsize=None)
def hostile_files():
    """name → (bytes, MIME type, what the refusal must say): the three files of issue 15,
    item 9 (the WebP in its simple and its extended form)."""
    small_jpeg = pillow_bytes(picture(64, 48), "JPEG", quality=80)
    return {
        "huge-lossless.webp": (webp_vp8l(16383, 16383), "image/webp", "16383 × 16383 pixels"),
        "huge-extended.webp": (webp_vp8x(16383, 16383), "image/webp", "16383 × 16383 pixels"),
        "huge-xmp.jpg": (jpeg_with_metadata_first(small_jpeg, xmp_segments(200_000), size=(12000, 9000)),
                         "image/jpeg", "12000 × 9000 pixels"),
        "huge-frame.gif": (gif_frame_beyond_screen((1, 1), (0, 0, 8000, 8000)), "image/gif", "8000 × 8000 pixels"),
    }


# --------------------------------------------------------------------------- header cases

UNREADABLE = "its size could not be read from the file, so it was not opened."


def refused(needle):
    return ("refused", needle)


def accepted(width, height):
    return ("accepted", [width, height])


def jpeg(width=64, height=48, **options):
    return pillow_bytes(picture(width, height), "JPEG", quality=80, **options)


@functools.lru_cache(maxsize=None)
def cases():
    """name → (bytes, expectation) for the header parser: ("refused", what the message must
    say) or ("accepted", [width, height] as the browser decodes it)."""
    small = jpeg()
    out = {name: (data, refused(needle)) for name, (data, _, needle) in hostile_files().items()}
    out.update({
        # ---- WebP
        "huge-lossy.webp": (webp_vp8_header(16383, 16383), refused("16383 × 16383 pixels (268 MP)")),
        "huge-canvas-animated.webp": (webp_vp8x_animated((8000, 8000), [(0, 0, 64, 64)]),
                                      refused("8000 × 8000 pixels")),
        "frame-beyond-canvas.webp": (webp_vp8x_animated((64, 64), [(0, 0, 64, 64), (2, 2, 9000, 9000)]),
                                     refused("9002 × 9002 pixels")),
        "frame-offset-beyond-canvas.webp": (webp_vp8x_animated((64, 64), [(8000, 6000, 16, 16)]),
                                            refused("8016 × 6016 pixels")),
        "bitstream-beyond-canvas.webp": (riff_webp(vp8x_header(64, 64), chunk(b"VP8L", vp8l(9000, 9000))),
                                         refused("9000 × 9000 pixels")),
        "truncated.webp": (webp_vp8l(100, 100)[:22], refused(UNREADABLE)),
        "no-start-code.webp": (webp_vp8_header(100, 100).replace(b"\x9d\x01\x2a", b"\0\0\0"), refused(UNREADABLE)),
        "not-key-frame.webp": (webp_vp8_header(100, 100).replace(b"\x10\0\0\x9d", b"\x11\0\0\x9d"),
                               refused(UNREADABLE)),
        "bad-vp8l-signature.webp": (webp_vp8l(100, 100).replace(b"\x2f", b"\x2e", 1), refused(UNREADABLE)),
        "bad-vp8l-version.webp": (patch(webp_vp8l(100, 100), 24, lambda b: b | 0x20), refused(UNREADABLE)),
        "unknown-first-chunk.webp": (riff_webp(chunk(b"ICCP", b"\0" * 20), chunk(b"VP8L", vp8l(9000, 9000))),
                                     refused(UNREADABLE)),
        "zero-size-vp8.webp": (webp_vp8_header(0, 100), refused(UNREADABLE)),
        "lossy.webp": (pillow_bytes(picture(500, 400), "WEBP", quality=80), accepted(500, 400)),
        "lossless.webp": (pillow_bytes(picture(300, 200), "WEBP", lossless=True), accepted(300, 200)),
        "extended-exif-icc.webp": (pillow_bytes(picture(420, 390), "WEBP", exif=exif_bytes(6),
                                                  icc_profile=b"\0" * 3000), accepted(420, 390)),
        "animated.webp": (pillow_bytes(picture(120, 90), "WEBP", save_all=True,
                                         append_images=[picture(120, 90).rotate(180)], duration=100),
                          accepted(120, 90)),
        "hand-animated.webp": (webp_vp8x_animated((640, 480), [(0, 0, 640, 480), (100, 50, 200, 100)]),
                               accepted(640, 480)),
        "at-the-limit.webp": (webp_vp8l(8000, 5000), accepted(8000, 5000)),
        "too-many-chunks.webp": (riff_webp(vp8x_header(64, 64), chunk(b"VP8L", vp8l(64, 64)),
                                           *[chunk(b"XYZW", b"")] * 50_000), refused(UNREADABLE)),
        # ---- JPEG
        "huge-icc.jpg": (jpeg_with_metadata_first(small, icc_segments(5), size=(12000, 9000)),
                         refused("12000 × 9000 pixels (108 MP)")),
        "huge-after-fill-bytes.jpg": (jpeg_fill_bytes_before_sof(jpeg_with_metadata_first(small, xmp_segments(70_000),
                                                                                             size=(9000, 9000))),
                                      refused("9000 × 9000 pixels")),
        "huge-after-garbage.jpg": (jpeg_garbage_before_sof(jpeg_with_metadata_first(small, b"", size=(9000, 9000))),
                                   refused("9000 × 9000 pixels")),
        "huge-after-restart-markers.jpg": (jpeg_standalone_before_sof(jpeg_with_metadata_first(small, b"",
                                                                                                 size=(9000, 9000))),
                                           refused("9000 × 9000 pixels")),
        "huge-progressive.jpg": (jpeg_with_metadata_first(jpeg(progressive=True), xmp_segments(100_000),
                                                            size=(10000, 8000)), refused("10000 × 8000 pixels")),
        "no-frame-header.jpg": (jpeg_without_sof(small), refused(UNREADABLE)),
        "zero-height.jpg": (jpeg_with_metadata_first(small, b"", size=(100, 0)), refused(UNREADABLE)),
        "truncated.jpg": (jpeg_with_metadata_first(small, xmp_segments(100_000))[:90_000], refused(UNREADABLE)),
        "bad-length.jpg": (small[:2] + b"\xff\xe1\x00\x01" + small[2:], refused(UNREADABLE)),
        "frame-header-beyond-16-mb.jpg": (jpeg_with_metadata_first(small, xmp_segments(17 * MB)),
                                          refused(UNREADABLE)),
        "too-many-segments.jpg": (jpeg_with_metadata_first(small, b"\xff\xfe\x00\x02" * 5000), refused(UNREADABLE)),
        "garbage-16-mb.jpg": (b"\xff\xd8\xff\xff" + b"\0" * (17 * MB), refused(UNREADABLE)),
        "sof-beyond-64-kb.jpg": (jpeg_with_metadata_first(small, xmp_segments(300_000)), accepted(64, 48)),
        "many-icc-segments.jpg": (jpeg_with_metadata_first(jpeg(800, 600), icc_segments(40)), accepted(800, 600)),
        "progressive-exif.jpg": (jpeg(500, 375, progressive=True, exif=exif_bytes(1)), accepted(500, 375)),
        "exif-thumbnail.jpg": (jpeg_with_huge_thumbnail(), accepted(640, 480)),
        "sof1-extended.jpg": (sof_marker(small, 0xC1), accepted(64, 48)),
        "at-the-limit.jpg": (jpeg_with_metadata_first(small, b"", size=(8000, 5000)), accepted(8000, 5000)),
        "rotated.jpg": (jpeg(600, 400, exif=exif_bytes(6)), accepted(400, 600)),
        "rotated-exif-after-sof.jpg": (jpeg_exif_after_sof(jpeg(600, 400), exif_bytes(8)), accepted(400, 600)),
        "upside-down.jpg": (jpeg(600, 400, exif=exif_bytes(3)), accepted(600, 400)),
        "first-exif-counts.jpg": (jpeg_with_metadata_first(jpeg(600, 400, exif=exif_bytes(6)),
                                                             app_segment(0xE1, exif_bytes(1))), accepted(600, 400)),
        "rotated-big-endian.jpg": (jpeg(600, 400, exif=exif_big_endian(5)), accepted(400, 600)),
        # ---- GIF
        "frame-offset-beyond-screen.gif": (gif_frame_beyond_screen((100, 100), (7990, 7990, 10, 10)),
                                           refused("8000 × 8000 pixels")),
        "second-frame-beyond-screen.gif": (gif_second_frame((7000, 7000, 1000, 1000)), refused("8000 × 8000 pixels")),
        "huge-screen.gif": (gif_frame_beyond_screen((9000, 9000), (0, 0, 16, 16)), refused("9000 × 9000 pixels")),
        "header-only.gif": (b"GIF89a\x01\x00", refused(UNREADABLE)),
        "empty-screen.gif": (b"GIF89a\0\0\0\0\0\0\0;", refused(UNREADABLE)),
        "too-many-frames.gif": (gif_tiny_frames(50_001), refused(UNREADABLE)),
        "many-frames.gif": (gif_tiny_frames(20_000), accepted(4, 4)),
        "tiny-sub-blocks.gif": (gif_tiny_sub_blocks(19 * MB), accepted(4, 4)),
        "animated.gif": (gif_animated((120, 90), 6), accepted(120, 90)),
        "first-frame-beyond-screen.gif": (gif_frame_beyond_screen((100, 100), (0, 0, 300, 200)), accepted(300, 200)),
        "trailing-junk.gif": (gif_animated((120, 90), 2).rstrip(b";") + b"\x00junk" * 10, accepted(120, 90)),
        # ---- PNG
        "huge.png": (png(16383, 16383), refused("16383 × 16383 pixels")),
        "ihdr-not-first.png": (png_ihdr_not_first((100, 100)), refused(UNREADABLE)),
        "zero-width.png": (png(0, 100), refused(UNREADABLE)),
        "small.png": (pillow_bytes(picture(64, 48), "PNG"), accepted(64, 48)),
        "rotated.png": (png_with_exif(6, before_idat=True), accepted(400, 600)),
        "exif-after-image-data.png": (png_with_exif(6, before_idat=False), accepted(600, 400)),
    })
    return out


def patch(data, offset, change):
    """``data`` with the byte at ``offset`` replaced by change(byte)."""
    return data[:offset] + bytes([change(data[offset])]) + data[offset + 1:]


def jpeg_exif_after_sof(data, exif):
    """An EXIF segment between the frame header and the image data (libjpeg reads it)."""
    pos, _, length = next(seg for seg in jpeg_segments(data) if seg[1] == 0xC0)
    return data[:pos + 2 + length] + app_segment(0xE1, exif) + data[pos + 2 + length:]


def exif_big_endian(orientation):
    """The Exif header, a big-endian (MM) TIFF header and IFD0 with one entry: Orientation."""
    return b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\0" * 4


def png_with_exif(orientation, before_idat):
    """A 600 × 400 PNG with an eXIf chunk (a TIFF structure, without the Exif header) before
    or after IDAT; Chromium turns the picture only by one before IDAT."""
    data = pillow_bytes(picture(600, 400), "PNG")
    chunk = png_chunk(b"eXIf", exif_bytes(orientation)[6:])
    at = 33 if before_idat else len(data) - 12  # after IHDR, or before IEND
    return data[:at] + chunk + data[at:]


def png(width, height):
    small = pillow_bytes(Image.new("RGB", (4, 4)), "PNG")
    return small[:16] + struct.pack(">II", width, height) + small[24:]


def jpeg_fill_bytes_before_sof(data):
    """0xFF fill bytes in front of the frame marker (T.81 B.1.1.2)."""
    sof = sof_offset(data)
    return data[:sof] + b"\xff" * 7 + data[sof:]


def jpeg_garbage_before_sof(data):
    """Bytes that are no marker between two segments, as libjpeg skips them (with a warning)."""
    sof = sof_offset(data)
    return data[:sof] + b"\x00\x12\xff\x00\x34\x56" + data[sof:]


def jpeg_standalone_before_sof(data):
    """RSTn and TEM markers, which have no length, before the frame header."""
    sof = sof_offset(data)
    return data[:sof] + b"\xff\xd0\xff\xd7\xff\x01" + data[sof:]


def jpeg_without_sof(data):
    pos, _, length = next(seg for seg in jpeg_segments(data) if seg[1] == 0xC0)
    return data[:pos] + data[pos + 2 + length:]


def sof_marker(data, marker):
    sof = sof_offset(data)
    return data[:sof + 1] + bytes([marker]) + data[sof + 2:]


def jpeg_with_huge_thumbnail():
    """An EXIF block whose embedded thumbnail declares 20000 × 20000: it lies inside the APP1
    segment, so it is skipped with it; the frame header after it says 640 × 480."""
    thumbnail = jpeg_with_metadata_first(jpeg(16, 16), b"", size=(20000, 20000))
    app1 = app_segment(0xE1, b"Exif\0\0" + b"II*\0\x08\0\0\0\0\0" + thumbnail)
    return jpeg_with_metadata_first(jpeg(640, 480), app1)


def gif_second_frame(frame):
    data = bytearray(gif_animated((64, 64), 2))
    second = gif_descriptor_offsets(bytes(data))[1]
    struct.pack_into("<HHHH", data, second + 1, *frame)
    return bytes(data)


GIF_TINY = b"GIF89a\x04\0\x04\0\x80\0\0" + b"\0\0\0\xff\xff\xff"  # 4 × 4 screen, 2 colours


def gif_tiny_frames(count):
    """``count`` 1 × 1 frames, each with a graphic control extension (25 bytes a frame)."""
    frame = b"\x21\xf9\x04\0\x01\0\0\0" + b"\x2c\0\0\0\0\x01\0\x01\0\0" + b"\x02\x02\x44\x01\0"
    return GIF_TINY + frame * count + b";"


def gif_tiny_sub_blocks(size):
    """One frame whose image data is ``size`` bytes of one-byte sub-blocks (a GIF the
    parser must walk to its end, two bytes at a time)."""
    return GIF_TINY + b"\x2c\0\0\0\0\x04\0\x04\0\0\x02" + b"\x01\0" * (size // 2) + b"\0;"

