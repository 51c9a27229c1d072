#!/usr/bin/env python3
"""Writes veil's MIID test fixtures (tests/data/miid/*.json) by running MIID's own code.

    make_fixtures.py --miid DIR [--out tests/data/miid]

DIR is a checkout of yanez-compliance/MIID-subnet at d71f292bcdeee906e0471255ff111a0b7f78717a
(main, 2026-08-03). Run with the bittensor 10.5 virtualenv of scripts/setup-peers
(.peers/bittensor/bin/python): MIID/protocol.py and MIID/miner/s3_upload.py import bittensor.
Nothing here reaches the network. This is a maintainer's tool: the fixtures it writes are
committed, and the test command reads them without MIID's sources.

What runs, all of it MIID's code unchanged (imported from DIR):
  - MIID/validator/image_variations.py: build_standard_challenge_variations() under
    random.seed(s) for several s, select_screen_replay_variation(),
    format_real_screen_replay_instructions() in both of its modes, validate_screen_replay_uav();
  - MIID/protocol.py: VariationRequest, ImageRequest, ScreenReplayUAV, S3Submission and
    IdentitySynapse on bittensor 10.5's bt.Synapse, built the way MIID/validator/forward.py
    builds its request (each detail followed by ". " and IMAGE_VARIATION_REQUIREMENTS) and
    neurons/miner.py its answer (index-less keys from MIID/miner/s3_upload.py's
    generate_s3_key; a real screen-replay capture with its second angle and its UAV report);
  - signatures by bittensor_wallet's sr25519 Keypair (the development seed below), the message
    forms neurons/miner.py signs.

Files written (each carries "source" and "generated_by"):
  variations.json  the standard five under eight seeds, six screen-replay variations,
                   IMAGE_VARIATION_REQUIREMENTS, the device types and cue keys
  requests.json    two ImageRequest documents as MIID's validator sends them (sandbox mode:
                   instructions naming the seed pool; daily-seed mode: daily_seed_image and
                   _filename) and, for each, the bittensor-11 wire body (the synapse JSON
                   without dendrite/axon), plus the field lists of MIID's models
  answer.json      one answer (five submissions and one screen-replay capture) as
                   S3Submission.model_dump() documents and as the v11 wire body
"""

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import random
import struct
import sys
import zlib

COMMIT = "d71f292bcdeee906e0471255ff111a0b7f78717a"
SOURCE = f"yanez-compliance/MIID-subnet@{COMMIT}"
GENERATED_BY = "tests/peers/miid/make_fixtures.py"
# The seed of Substrate's development phrase (the key tests/peers/py/miid_models.py signs with),
# so anyone can re-check the signatures.
DEV_SEED = "fac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e"
VALIDATOR_SS58_PREFIX = "5FHneW46"  # forward.py: challenge_{unix}_{validator ss58[:8]}
CREATED = 1_785_000_000  # a fixed "now" for challenge ids and key timestamps
QUICKNET_GENESIS, QUICKNET_PERIOD = 1692803367, 3


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def png(width: int, height: int, tint: int) -> bytes:
    """A valid 8-bit RGB PNG: a smooth gradient, distinct per tint."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    rows = []
    for y in range(height):
        row = bytearray(b"\0")
        for x in range(width):
            row += bytes(((x * 4 + tint) % 256, (y * 4 + 2 * tint) % 256, (x + y + 3 * tint) % 256))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def write(out_dir: str, name: str, document: dict) -> None:
    path = os.path.join(out_dir, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(prog="make_fixtures.py", description=__doc__.split("\n")[0])
    p.add_argument("--miid", required=True, help="a MIID-subnet checkout at " + COMMIT)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "data", "miid"))
    args = p.parse_args()
    miid = os.path.abspath(args.miid)
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, miid)

    iv = load(os.path.join(miid, "MIID/validator/image_variations.py"), "miid_image_variations")
    protocol = load(os.path.join(miid, "MIID/protocol.py"), "miid_protocol")
    s3_upload = load(os.path.join(miid, "MIID/miner/s3_upload.py"), "miid_s3_upload")
    from bittensor_wallet import Keypair

    # --- variations.json ----------------------------------------------------------------
    standard = []
    for seed in range(1, 9):
        random.seed(seed)
        standard.append({"random_seed": seed, "variations": iv.build_standard_challenge_variations()})
    random.seed(100)
    screen_replay = [iv.select_screen_replay_variation() for _ in range(6)]
    write(
        args.out,
        "variations.json",
        {
            "source": SOURCE,
            "generated_by": GENERATED_BY,
            "what": "build_standard_challenge_variations() under random.seed(s); "
            "select_screen_replay_variation() under random.seed(100)",
            "image_variation_requirements": iv.IMAGE_VARIATION_REQUIREMENTS,
            "screen_replay_device_types": iv.SCREEN_REPLAY_DEVICE_TYPES,
            "screen_replay_visual_cues": list(iv.SCREEN_REPLAY_VISUAL_CUES),
            "standard": standard,
            "screen_replay": screen_replay,
        },
    )

    # --- requests.json ------------------------------------------------------------------
    base_png = png(64, 64, 7)
    daily_png = png(48, 48, 91)
    target_round = (CREATED + 2400 - QUICKNET_GENESIS) // QUICKNET_PERIOD + 1
    reveal_timestamp = QUICKNET_GENESIS + (target_round - 1) * QUICKNET_PERIOD

    def image_request(n: int, daily: bool):
        # forward.py: each detail gets ". " and the requirements on the wire.
        variation_requests = [
            protocol.VariationRequest(
                type=v["type"],
                intensity=v["intensity"],
                description=v["description"],
                detail=f"{v['detail']}. {iv.IMAGE_VARIATION_REQUIREMENTS}",
            )
            for v in standard[n]["variations"]
        ]
        if daily:
            instructions = iv.format_real_screen_replay_instructions(seed_filename="daily_seed_0003.png")
        else:
            pool = ["fixed_01.png", "fixed_02.png", "fixed_03.png"]
            instructions = iv.format_real_screen_replay_instructions(seed_pool=pool)
        return protocol.ImageRequest(
            base_image=base64.b64encode(base_png).decode("ascii"),
            image_filename="0ad9417fe84e_m_doc.png",
            variation_requests=variation_requests,
            target_drand_round=target_round,
            reveal_timestamp=reveal_timestamp,
            challenge_id=f"challenge_{CREATED + n}_{VALIDATOR_SS58_PREFIX}",
            daily_seed_image=base64.b64encode(daily_png).decode("ascii") if daily else None,
            daily_seed_filename="daily_seed_0003.png" if daily else None,
            real_screen_replay_instructions=instructions,
        )

    requests = []
    for n, daily in ((0, False), (1, True)):
        req = image_request(n, daily)
        synapse = protocol.IdentitySynapse(timeout=1200.0, image_request=req)
        requests.append(
            {
                "mode": "daily seed" if daily else "sandbox (seed pool)",
                "image_request": req.model_dump(mode="json"),
                "v11_body": json.loads(synapse.model_dump_json(exclude={"dendrite", "axon"})),
            }
        )
    write(
        args.out,
        "requests.json",
        {
            "source": SOURCE,
            "generated_by": GENERATED_BY,
            "what": "ImageRequest as MIID/validator/forward.py builds it, from variations.json's "
            "first two seeds; v11_body is IdentitySynapse.model_dump_json(exclude={dendrite, axon}), "
            "the body of the bittensor-11 branch's POST /IdentitySynapse",
            "fields": {
                "VariationRequest": list(protocol.VariationRequest.model_fields),
                "ImageRequest": list(protocol.ImageRequest.model_fields),
                "ScreenReplayUAV": list(protocol.ScreenReplayUAV.model_fields),
                "S3Submission": list(protocol.S3Submission.model_fields),
            },
            "requests": requests,
        },
    )

    # --- answer.json --------------------------------------------------------------------
    hotkey = Keypair.create_from_seed(DEV_SEED)
    ss58 = hotkey.ss58_address
    req = image_request(0, False)
    cid = req.challenge_id
    path_signature = hotkey.sign(f"{cid}:{ss58}".encode()).hex()[:16]
    seed_name = req.image_filename.rsplit(".", 1)[0]

    def attest(data: bytes):
        image_hash = hashlib.sha256(data).hexdigest()
        return image_hash, hotkey.sign(f"challenge:{cid}:hash:{image_hash}".encode()).hex()

    submissions = []
    for i, v in enumerate(req.variation_requests):
        image_hash, signature = attest(png(32, 32, 20 + i))
        # FLUX takes seconds per image: each key carries its own second.
        key = s3_upload.generate_s3_key(cid, ss58, v.type, path_signature, seed_name, CREATED + 60 + 9 * i)
        submissions.append(
            protocol.S3Submission(
                s3_key=key,
                image_hash=image_hash,
                signature=signature,
                variation_type=v.type,
                path_signature=path_signature,
            )
        )
    # neurons/miner.py's real screen-replay capture: two photos, two keys, one UAV report.
    pool_seed = "fixed_02.png"
    capture_name = pool_seed.rsplit(".", 1)[0]
    hash1, sig1 = attest(png(40, 30, 200))
    hash2, sig2 = attest(png(40, 30, 201))
    uav = protocol.ScreenReplayUAV(
        seed_image=pool_seed,
        date="2026-07-25",
        camera_used="iPhone 15 Pro",
        device_photographed="laptop",
        moire_pixel_grid=True,
        screen_glare_hotspots=False,
        perspective_keystone_distortion=True,
        gamma_contrast_shift=False,
        edge_crop_cues=True,
    )
    assert iv.validate_screen_replay_uav(uav)
    submissions.append(
        protocol.S3Submission(
            s3_key=s3_upload.generate_s3_key(cid, ss58, "screen_replay", path_signature, capture_name, CREATED + 120),
            image_hash=hash1,
            signature=sig1,
            variation_type="screen_replay",
            path_signature=path_signature,
            s3_key_angle2=s3_upload.generate_s3_key(
                cid, ss58, "screen_replay_angle2", path_signature, capture_name, CREATED + 120
            ),
            image_hash_angle2=hash2,
            signature_angle2=sig2,
            screen_replay_uav=uav,
        )
    )
    synapse = protocol.IdentitySynapse(timeout=1200.0, image_request=None, s3_submissions=submissions)
    write(
        args.out,
        "answer.json",
        {
            "source": SOURCE,
            "generated_by": GENERATED_BY,
            "what": "the answer neurons/miner.py gives to requests.json's first request: one "
            "S3Submission per variation (index-less keys by MIID/miner/s3_upload.py's "
            "generate_s3_key) and one real screen-replay capture (both angles, UAV report "
            "accepted by validate_screen_replay_uav); signed by the hotkey of DEV_SEED",
            "hotkey": ss58,
            "challenge_id": cid,
            "s3_submissions": [s.model_dump(mode="json") for s in submissions],
            "v11_body": json.loads(synapse.model_dump_json(exclude={"dendrite", "axon"})),
        },
    )


if __name__ == "__main__":
    main()
