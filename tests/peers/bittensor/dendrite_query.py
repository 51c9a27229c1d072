#!/usr/bin/env python3
"""Interop peer for veil's tests: a real bittensor 10.5 `bt.Dendrite` (a MIID validator's
client) querying one axon with MIID's IdentitySynapse.

    dendrite_query.py --seed HEX32 --axon-host H --axon-port P --axon-hotkey SS58
                      --image FILE --filename NAME --round R --reveal-ts T
                      --challenge-id CID --timeout S [--variation TYPE:INTENSITY]...
                      [--repeat N]
    dendrite_query.py ... --request FILE [--image FILE --filename NAME] --round R ...

With --request, FILE holds an ImageRequest document as MIID's validator builds it (a fixture
of tests/data/miid): its variation requests, daily seed and screen-replay instructions are
sent as they are; --round, --reveal-ts and --challenge-id replace its values, --image and
--filename too when given, and --variation is not allowed.

The dendrite signs with the sr25519 keypair of the 32-byte mini secret HEX32 (hex, "0x"
optional; bittensor_wallet.Keypair.create_from_seed). The target is an AxonInfo built by hand
(no chain): version = bittensor's version_as_int, ip H, port P, ip_type 4, hotkey SS58,
coldkey SS58 too (the dendrite never reads it), protocol 4. Each query is
IdentitySynapse(timeout=S, image_request=ImageRequest(base_image=base64(FILE),
image_filename=NAME, variation_requests=[...], target_drand_round=R, reveal_timestamp=T,
challenge_id=CID)) sent with deserialize=False. With --repeat N the same Dendrite (one uuid,
one aiohttp session) sends N queries one after the other; each carries a fresh
time.time_ns() nonce, so an axon that enforces nonce monotonicity must accept them all.

stdout: one JSON line
    {"dendrite_hotkey": SS58, "dendrite_uuid": str,
     "results": [{"status_code", "status_message", "is_success", "process_time",
                  "nonce", "submissions": [S3Submission.model_dump(), ...],
                  "signatures_valid": [bool, ...]}, ...]}
one result per query. signatures_valid[i] is bittensor_wallet's
Keypair(ss58_address=axon_hotkey).verify(b"challenge:{CID}:hash:{image_hash}",
bytes.fromhex(signature)) for submission i (False when the signature is not hex). A query the
axon refused (403, 401, ...) or that failed in transport (503, 408, 422) is still a result:
the dendrite turns every failure into a status code, so the exit code is 0 once the queries
were sent. Bad arguments or an unreadable image: exit 1 (2 for usage) with one line on stderr.
bittensor's own logging goes to stderr.
"""

import argparse
import asyncio
import base64
import json
import sys

import miid_protocol as mp
from bittensor_wallet import Keypair

bt = mp.bt


def fail(msg: str) -> None:
    sys.stderr.write(f"dendrite_query.py: {msg}\n")
    sys.exit(1)


def keypair_from_seed(seed_hex: str) -> Keypair:
    try:
        return Keypair.create_from_seed(mp.seed_from_hex(seed_hex).hex())
    except ValueError as e:
        fail(str(e))


def parse_variation(text: str) -> mp.VariationRequest:
    kind, sep, intensity = text.rpartition(":")
    if not sep or not kind or not intensity:
        raise argparse.ArgumentTypeError(f"not TYPE:INTENSITY: {text!r}")
    return mp.VariationRequest(type=kind, intensity=intensity)


def signature_valid(verifier: Keypair, cid: str, image_hash: str, signature: str) -> bool:
    try:
        sig = bytes.fromhex(signature)
    except (ValueError, TypeError):
        return False
    try:
        return bool(verifier.verify(mp.signed_image_message(cid, image_hash), sig))
    except Exception:  # a malformed signature length, etc.
        return False


def result_of(syn, verifier: Keypair, cid: str) -> dict:
    d = syn.dendrite
    subs = syn.s3_submissions or []
    process_time = None
    if d is not None and d.process_time is not None:
        process_time = float(d.process_time)
    return {
        "status_code": d.status_code if d else None,
        "status_message": d.status_message if d else None,
        "is_success": bool(syn.is_success),
        "process_time": process_time,
        "nonce": d.nonce if d else None,
        "submissions": [s.model_dump() for s in subs],
        "signatures_valid": [
            signature_valid(verifier, cid, s.image_hash, s.signature) for s in subs
        ],
    }


async def run(args, keypair: Keypair, image_request: mp.ImageRequest) -> dict:
    dendrite = bt.Dendrite(wallet=keypair)
    axon = bt.AxonInfo(
        version=bt.core.settings.version_as_int,
        ip=args.axon_host,
        port=args.axon_port,
        ip_type=4,
        hotkey=args.axon_hotkey,
        coldkey=args.axon_hotkey,
        protocol=4,
    )
    verifier = Keypair(ss58_address=args.axon_hotkey)
    results = []
    try:
        for _ in range(args.repeat):
            syn = mp.IdentitySynapse(timeout=args.timeout, image_request=image_request)
            out = await dendrite.forward(
                axons=axon, synapse=syn, timeout=args.timeout, deserialize=False
            )
            results.append(result_of(out, verifier, args.challenge_id))
    finally:
        await dendrite.aclose_session()
    return {
        "dendrite_hotkey": keypair.ss58_address,
        "dendrite_uuid": dendrite.uuid,
        "results": results,
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="dendrite_query.py", description=__doc__.split("\n")[0])
    p.add_argument("--seed", required=True)
    p.add_argument("--axon-host", required=True)
    p.add_argument("--axon-port", required=True, type=int)
    p.add_argument("--axon-hotkey", required=True)
    p.add_argument("--request")
    p.add_argument("--image")
    p.add_argument("--filename")
    p.add_argument("--round", required=True, type=int)
    p.add_argument("--reveal-ts", required=True, type=int)
    p.add_argument("--challenge-id", required=True)
    p.add_argument("--timeout", required=True, type=float)
    p.add_argument("--variation", action="append", default=[], type=parse_variation)
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    if args.repeat < 1:
        fail("--repeat must be at least 1")
    keypair = keypair_from_seed(args.seed)
    try:
        Keypair(ss58_address=args.axon_hotkey)
    except Exception as e:
        fail(f"--axon-hotkey is not an SS58 address: {e}")
    fields = {}
    if args.request:
        if args.variation:
            fail("--variation and --request exclude each other")
        try:
            with open(args.request, encoding="utf-8") as f:
                fields = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"cannot read --request: {e}")
    elif not (args.image and args.filename):
        fail("--image and --filename are required without --request")
    if args.image:
        try:
            with open(args.image, "rb") as f:
                fields["base_image"] = base64.b64encode(f.read()).decode()
        except OSError as e:
            fail(f"cannot read --image: {e}")
    if args.filename:
        fields["image_filename"] = args.filename
    if not args.request:
        fields["variation_requests"] = args.variation
    fields.update(
        target_drand_round=args.round,
        reveal_timestamp=args.reveal_ts,
        challenge_id=args.challenge_id,
    )
    try:
        image_request = mp.ImageRequest(**fields)
    except Exception as e:
        fail(f"not an ImageRequest: {e}")
    report = asyncio.run(run(args, keypair, image_request))
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
