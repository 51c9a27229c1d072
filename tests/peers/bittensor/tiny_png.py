#!/usr/bin/env python3
"""Small valid PNG images in pure Python (zlib + struct), for the bittensor interop peers.

    tiny_png.py OUT [TEXT]    writes a 16x16 RGB PNG whose pixels derive from TEXT to OUT

`make_png(seed)` returns the PNG bytes: an 8-bit RGB image whose pixels are a SHA-256
stream of `seed`, so different seeds give different images (and different hashes).
"""

import hashlib
import struct
import sys
import zlib

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(seed: bytes, width: int = 16, height: int = 16) -> bytes:
    row_len = width * 3
    need = row_len * height
    stream = b""
    counter = 0
    while len(stream) < need:
        stream += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    # Each scanline: filter byte 0 (None) then the RGB bytes.
    raw = b"".join(
        b"\x00" + stream[y * row_len : (y + 1) * row_len] for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        PNG_MAGIC
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: tiny_png.py OUT [TEXT]\n")
        sys.exit(2)
    text = sys.argv[2] if len(sys.argv) == 3 else "veil"
    with open(sys.argv[1], "wb") as f:
        f.write(make_png(text.encode()))


if __name__ == "__main__":
    main()
