#!/usr/bin/env python3
"""Interop peer for veil's tests: MIID's Phase 4 wire models, parsed by real pydantic v2.

    miid_models.py validate MODEL    stdin: JSON   stdout: model_dump_json() of the parsed model
    miid_models.py example MODEL     stdout: a realistic example document for MODEL

MODEL is VariationRequest, ImageRequest, S3Submission or S3SubmissionList (a JSON array of
S3Submission, what IdentitySynapse.s3_submissions carries). Every stdout result is one line
ending in "\\n". On failure (bad JSON, a missing field, a wrong type) the exit code is 1,
stdout is empty and stderr holds one line listing each error as `location: message [type]`.

The models are declared here from the protocol notes (MIID/protocol.py at HEAD), not imported
from MIID. They keep pydantic's defaults, as MIID does: unknown fields are ignored and "lax"
coercions apply (a numeric string is accepted for an int, 3.0 for an int; an int is *not*
accepted for a str). `validate` reads bytes and hands them to pydantic unchanged, so
invalid UTF-8 is pydantic's error to report; its output is pydantic's compact JSON with
non-ASCII characters written as raw UTF-8. `example` writes ASCII-only JSON (non-ASCII as
\\uXXXX escapes, surrogate pairs above the BMP), the way Python's json module does by default.

The S3Submission example carries real sr25519 signatures by the well-known development key
(seed 0xfac7...479e, address 5DfhGyQd...RzV), made with bittensor-wallet, so they differ on
every run: `signature` is over b"challenge:{challenge_id}:hash:{image_hash}", `path_signature`
is the first 16 hex chars of a signature over b"{challenge_id}:{ss58}", and `image_hash` is the
SHA-256 of the embedded PNG.
"""

import base64
import hashlib
import json
import struct
import sys
import zlib
from typing import Optional

from pydantic import BaseModel, RootModel, ValidationError

USAGE = (
    "usage: miid_models.py validate MODEL | example MODEL"
    "  (MODEL: VariationRequest, ImageRequest, S3Submission, S3SubmissionList)"
)


# --- The models (MIID/protocol.py at HEAD, as described in the reference notes §1.2) ---------


class VariationRequest(BaseModel):
    # type: pose_edit, lighting_edit, expression_edit, background_edit, combinations joined
    # with "+" (e.g. "lighting_edit+expression_edit"), or screen_replay.
    type: str
    # intensity: light, medium or far.
    intensity: str
    description: str = ""
    detail: str = ""


class ImageRequest(BaseModel):
    base_image: str  # base64 of the seed image
    image_filename: str
    variation_requests: list[VariationRequest] = []
    target_drand_round: int
    reveal_timestamp: int
    challenge_id: Optional[str] = None
    daily_seed_image: Optional[str] = None
    daily_seed_filename: Optional[str] = None
    real_screen_replay_instructions: Optional[str] = None


class ScreenReplayUAV(BaseModel):
    # The notes list these fields without types or defaults: the four strings and five flags
    # are declared required here.
    seed_image: str
    date: str  # "YYYY-MM-DD"
    camera_used: str
    device_photographed: str
    moire_pixel_grid: bool
    screen_glare_hotspots: bool
    perspective_keystone_distortion: bool
    gamma_contrast_shift: bool
    edge_crop_cues: bool


class S3Submission(BaseModel):
    s3_key: str
    image_hash: str  # SHA-256 hex of the plaintext PNG
    signature: str  # 128 hex chars, no 0x
    variation_type: str
    path_signature: str  # 16 hex chars; required since MIID a9ea78eca
    # Only for screen_replay submissions (a second photo and its attestation):
    s3_key_angle2: Optional[str] = None
    image_hash_angle2: Optional[str] = None
    signature_angle2: Optional[str] = None
    screen_replay_uav: Optional[ScreenReplayUAV] = None


class S3SubmissionList(RootModel[list[S3Submission]]):
    pass


MODELS = {
    "VariationRequest": VariationRequest,
    "ImageRequest": ImageRequest,
    "S3Submission": S3Submission,
    "S3SubmissionList": S3SubmissionList,
}


# --- Examples --------------------------------------------------------------------------------

DEV_SEED = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
CHALLENGE_ID = "p4-2026-05-14-0007"
SEED_FILENAME = "seed_0042.png"
QUICKNET_GENESIS, QUICKNET_PERIOD = 1692803367, 3
TARGET_ROUND = 20_000_000
REVEAL_TIMESTAMP = QUICKNET_GENESIS + (TARGET_ROUND - 1) * QUICKNET_PERIOD


def tiny_png(rgb_rows: list[list[tuple[int, int, int]]]) -> bytes:
    """A valid 8-bit RGB PNG of the given pixels (filter 0 on every row)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    height, width = len(rgb_rows), len(rgb_rows[0])
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in rgb_rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


SEED_PNG = tiny_png([[(200, 160, 140), (190, 150, 130)], [(60, 40, 30), (250, 250, 250)]])


def example_variation_requests() -> list[dict]:
    return [
        {
            "type": "pose_edit",
            "intensity": "medium",
            "description": "Turn the head slightly to the subject's left",
            "detail": (
                'Yaw ≈ 15° left, chin level; keep the "natural" smile.\n'
                "Éclairage: doux — pas d'ombres dures.\tTab, backslash \\ and slash /;"
                " 日本語のテキスト; emoji 🙂; control \u0001 char."
            ),
        },
        {
            "type": "lighting_edit+expression_edit",
            "intensity": "light",
            "description": "Warm window light from the right and a subtle smile",
            "detail": "",
        },
        {"type": "background_edit", "intensity": "far", "description": "", "detail": ""},
    ]


def example_image_request() -> dict:
    return {
        "base_image": base64.b64encode(SEED_PNG).decode("ascii"),
        "image_filename": SEED_FILENAME,
        "variation_requests": example_variation_requests(),
        "target_drand_round": TARGET_ROUND,
        "reveal_timestamp": REVEAL_TIMESTAMP,
        "challenge_id": CHALLENGE_ID,
        "daily_seed_image": None,
        "daily_seed_filename": None,
        "real_screen_replay_instructions": (
            "Photograph the seed image shown full-screen on a phone, from two angles."
        ),
    }


def example_submissions() -> list[dict]:
    from bittensor_wallet import Keypair

    hotkey = Keypair.create_from_seed(DEV_SEED)
    ss58 = hotkey.ss58_address
    path_signature = hotkey.sign(f"{CHALLENGE_ID}:{ss58}".encode()).hex()[:16]
    seed_name = SEED_FILENAME.rsplit(".", 1)[0]
    timestamp = REVEAL_TIMESTAMP - 600

    def attest(png: bytes) -> tuple[str, str]:
        image_hash = hashlib.sha256(png).hexdigest()
        message = f"challenge:{CHALLENGE_ID}:hash:{image_hash}".encode()
        return image_hash, hotkey.sign(message).hex()

    def key(variation_type: str, index: int) -> str:
        leaf = f"{variation_type.replace('+', '_')}_{timestamp}_{index}.png.tlock"
        return f"submissions/{CHALLENGE_ID}/{ss58}/{path_signature}/{seed_name}/{leaf}"

    submissions = []
    for index, request in enumerate(example_variation_requests()):
        # A distinct small PNG per variation, so every hash differs.
        png = tiny_png([[(index * 40, 90, 120), (10, 20, 30 + index)]])
        image_hash, signature = attest(png)
        submissions.append(
            {
                "s3_key": key(request["type"], index),
                "image_hash": image_hash,
                "signature": signature,
                "variation_type": request["type"],
                "path_signature": path_signature,
            }
        )
    hash1, sig1 = attest(tiny_png([[(1, 2, 3)]]))
    hash2, sig2 = attest(tiny_png([[(4, 5, 6)]]))
    index = len(submissions)
    submissions.append(
        {
            "s3_key": key("screen_replay", index),
            "image_hash": hash1,
            "signature": sig1,
            "variation_type": "screen_replay",
            "path_signature": path_signature,
            "s3_key_angle2": key("screen_replay", index).replace(".png.tlock", "_angle2.png.tlock"),
            "image_hash_angle2": hash2,
            "signature_angle2": sig2,
            "screen_replay_uav": {
                "seed_image": SEED_FILENAME,
                "date": "2026-05-14",
                "camera_used": "Pixel 8 rear camera",
                "device_photographed": "MacBook Air 13\" (2022)",
                "moire_pixel_grid": True,
                "screen_glare_hotspots": False,
                "perspective_keystone_distortion": True,
                "gamma_contrast_shift": True,
                "edge_crop_cues": False,
            },
        }
    )
    return submissions


def example(name: str):
    if name == "VariationRequest":
        return example_variation_requests()[0]
    if name == "ImageRequest":
        return example_image_request()
    if name == "S3Submission":
        return example_submissions()[0]
    if name == "S3SubmissionList":
        return example_submissions()
    raise ValueError(USAGE)


# --- CLI ---------------------------------------------------------------------------------------


def describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"]) or "<root>"
        parts.append(f"{location}: {item['msg']} [{item['type']}]")
    return f"{error.error_count()} error(s) for {error.title}: " + "; ".join(parts)


def model_named(name: str):
    model = MODELS.get(name)
    if model is None:
        raise ValueError(USAGE)
    return model


def run(argv: list[str]) -> str:
    if len(argv) != 2:
        raise ValueError(USAGE)
    command, name = argv
    model = model_named(name)
    if command == "validate":
        return model.model_validate_json(sys.stdin.buffer.read()).model_dump_json()
    if command == "example":
        document = example(name)
        model.model_validate(document)  # an example that does not validate is a bug here
        return json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    raise ValueError(USAGE)


def main() -> int:
    try:
        output = run(sys.argv[1:])
    except Exception as e:  # every failure becomes one stderr line and exit code 1
        text = describe(e) if isinstance(e, ValidationError) else str(e)
        message = " ".join(f"{type(e).__name__}: {text}".split())
        print(f"miid_models.py: {message}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(output.encode("utf-8") + b"\n")
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
