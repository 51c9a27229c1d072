#!/usr/bin/env python3
"""Small valid PNG images in pure Python, for the bittensor interop peers.

    tiny_png.py OUT [TEXT]    writes a 16x16 RGB PNG whose pixels derive from TEXT to OUT

`make_png(seed)` returns the PNG bytes: an 8-bit RGB image whose pixels are a SHA-256
stream of `seed`, so different seeds give different images (and different hashes).
"""

import hashlib
import os
import sys

# The PNG writer of tests/peers/py/miid_models.py (stdlib + pydantic, both in this venv).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
import miid_models  # noqa: E402


def make_png(seed: bytes, width: int = 16, height: int = 16) -> bytes:
    row_len = width * 3
    stream = b""
    counter = 0
    while len(stream) < row_len * height:
        stream += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    rows = [
        [tuple(stream[y * row_len + 3 * x : y * row_len + 3 * x + 3]) for x in range(width)]
        for y in range(height)
    ]
    return miid_models.tiny_png(rows)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.stderr.write("usage: tiny_png.py OUT [TEXT]\n")
        sys.exit(2)
    text = sys.argv[2] if len(sys.argv) == 3 else "veil"
    with open(sys.argv[1], "wb") as f:
        f.write(make_png(text.encode()))


if __name__ == "__main__":
    main()
