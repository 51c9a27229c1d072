#!/usr/bin/env python3
"""Interop peer for veil's tests: a MIID-style Phase 4 miner on a real bittensor 10.5 `bt.Axon`.

    axon_miner.py --seed HEX32 --port P --store-dir DIR --allow SS58 [--allow SS58]...
                  [--record FILE]

Serves MIID's IdentitySynapse on 127.0.0.1:P (POST /IdentitySynapse, the real axon's
middleware: blacklist, then default_verify's signature and nonce checks, then the body-hash
check, then forward) until SIGTERM or SIGINT. Once the server accepts connections it prints
exactly one line on stdout:

    listening 127.0.0.1:P hotkey SS58

where SS58 is the hotkey of the 32-byte mini secret HEX32 ("0x" optional). The axon reads an
on-disk wallet, so the hotkey (and a coldkeypub, derived from the seed too: nothing checks it)
is written into a private temporary directory (tempfile.mkdtemp, so under $TMPDIR if set),
removed when the script stops on SIGTERM or SIGINT.

blacklist: a dendrite hotkey not given with --allow gets (True, "Unrecognized hotkey"), which
the axon answers with 403 (MIID's stock miner does the same with its whitelist).

forward, as MIID's miner at HEAD (notes §1.3), with generated images instead of FLUX:
    cid = image_request.challenge_id or "sandbox_test"
    seed_name = image_filename without a .png/.jpg/.jpeg suffix
    path_signature = hotkey.sign(f"{cid}:{ss58}".encode()).hex()[:16]
    for each variation_requests[i]: a 16x16 PNG (distinct per ss58, cid, i),
        image_hash = sha256 hex, signature = hotkey.sign(f"challenge:{cid}:hash:{image_hash}"
        .encode()).hex() (no 0x), sealed with bittensor_drand.encrypt_at_round(png,
        target_drand_round) (its SCALE envelope), written to DIR/KEY (temp name, then rename),
        KEY = submissions/{cid}/{ss58}/{path_signature}/{seed_name}/
              {type with '+'->'_'}_{unix_ts}_{i}.png.tlock
and answers s3_submissions = [S3Submission(s3_key=KEY, image_hash, signature,
variation_type=type, path_signature)]. A KEY that would leave DIR makes forward fail (500).

--record FILE appends one JSON line per IdentitySynapse request that reached the blacklist:
    {"hotkey", "nonce", "uuid", "version", "timeout", "outcome"}
with the dendrite's values from the request headers, and outcome "blacklisted", "verified"
(signature and nonce accepted by the axon's default_verify) or "refused: <why>". bittensor's
logging goes to stderr. Errors before serving (bad seed, port busy or out of the axon's
range 1025..65534): exit 1 with one line on stderr.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from typing import Tuple

import miid_protocol as mp
import tiny_png
from bittensor_wallet import Keypair, Wallet
from miid_protocol import IdentitySynapse

import bittensor_drand

bt = mp.bt

STARTUP_SECONDS = 60.0


def fail(msg: str) -> None:
    sys.stderr.write(f"axon_miner.py: {msg}\n")
    sys.exit(1)


def port_is_free(port: int) -> bool:
    # uvicorn binds with SO_REUSEADDR; the probe does the same so it agrees with it.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def strip_image_suffix(name: str) -> str:
    for ext in (".png", ".jpg", ".jpeg"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


class Miner:
    def __init__(self, keypair: Keypair, store_dir: str, allow, record):
        self.keypair = keypair
        self.ss58 = keypair.ss58_address
        self.store_dir = os.path.realpath(store_dir)
        self.allow = set(allow)
        self.record_path = record
        self.record_lock = threading.Lock()
        self.axon = None  # set once built

    def record(self, synapse: IdentitySynapse, outcome: str) -> None:
        if not self.record_path:
            return
        d = synapse.dendrite
        line = {
            "hotkey": d.hotkey if d else None,
            "nonce": d.nonce if d else None,
            "uuid": d.uuid if d else None,
            "version": d.version if d else None,
            "timeout": synapse.timeout,
            "outcome": outcome,
        }
        with self.record_lock:
            with open(self.record_path, "a") as f:
                f.write(json.dumps(line) + "\n")

    def store(self, key: str, data: bytes) -> None:
        path = os.path.realpath(os.path.join(self.store_dir, key))
        if not path.startswith(self.store_dir + os.sep):
            raise ValueError(f"key leaves the store: {key!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def forward(self, synapse: IdentitySynapse) -> IdentitySynapse:
        req = synapse.image_request
        if req is None:
            synapse.s3_submissions = []
            return synapse
        base64.b64decode(req.base_image, validate=True)  # as MIID: the seed image must decode
        cid = req.challenge_id or "sandbox_test"
        seed_name = strip_image_suffix(req.image_filename)
        path_signature = self.keypair.sign(f"{cid}:{self.ss58}".encode()).hex()[:16]
        submissions = []
        for i, vr in enumerate(req.variation_requests):
            png = tiny_png.make_png(f"{self.ss58}|{cid}|{i}".encode())
            image_hash = hashlib.sha256(png).hexdigest()
            signature = self.keypair.sign(mp.signed_image_message(cid, image_hash)).hex()
            sealed, _round = bittensor_drand.encrypt_at_round(png, req.target_drand_round)
            kind = vr.type.replace("+", "_")
            key = (
                f"submissions/{cid}/{self.ss58}/{path_signature}/{seed_name}/"
                f"{kind}_{int(time.time())}_{i}.png.tlock"
            )
            self.store(key, bytes(sealed))
            submissions.append(
                mp.S3Submission(
                    s3_key=key,
                    image_hash=image_hash,
                    signature=signature,
                    variation_type=vr.type,
                    path_signature=path_signature,
                )
            )
        synapse.s3_submissions = submissions
        return synapse


def build_wallet(directory: str, hotkey: Keypair, seed: bytes) -> Wallet:
    wallet = Wallet(name="veil-peer", hotkey="default", path=directory)
    wallet.set_hotkey(hotkey, encrypt=False, overwrite=True)
    coldkey = Keypair.create_from_seed(hashlib.sha256(b"coldkey" + seed).hexdigest())
    wallet.set_coldkeypub(coldkey, overwrite=True)
    return wallet


def main() -> None:
    p = argparse.ArgumentParser(prog="axon_miner.py", description=__doc__.split("\n")[0])
    p.add_argument("--seed", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--store-dir", required=True)
    p.add_argument("--allow", action="append", default=[])
    p.add_argument("--record")
    args = p.parse_args()

    try:
        seed = mp.seed_from_hex(args.seed)
    except ValueError as e:
        fail(str(e))
    if not 1024 < args.port < 65535:
        fail(f"--port {args.port}: the axon accepts 1025..65534 only")
    os.makedirs(args.store_dir, exist_ok=True)
    keypair = Keypair.create_from_seed(seed.hex())
    miner = Miner(keypair, args.store_dir, args.allow, args.record)

    # bt.Axon's server thread dies silently on a busy port and the axon never starts.
    if not port_is_free(args.port):
        fail(f"port 127.0.0.1:{args.port} is busy")

    # Installed before the wallet directory exists, so a SIGTERM from here on still removes it.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    wallet_dir = tempfile.mkdtemp(prefix="veil-axon-wallet-")
    try:
        os.chmod(wallet_dir, 0o700)
        wallet = build_wallet(wallet_dir, keypair, seed)

        # The annotations are what bt.Axon.attach checks (names and types must match).
        def forward(synapse: IdentitySynapse) -> IdentitySynapse:
            return miner.forward(synapse)

        def blacklist(synapse: IdentitySynapse) -> Tuple[bool, str]:
            hotkey = synapse.dendrite.hotkey if synapse.dendrite else None
            if hotkey not in miner.allow:
                miner.record(synapse, "blacklisted")
                return True, "Unrecognized hotkey"
            return False, "Hotkey recognized"

        async def verify(synapse: IdentitySynapse) -> None:
            try:
                await axon.default_verify(synapse)
            except Exception as e:
                miner.record(synapse, f"refused: {e}")
                raise
            miner.record(synapse, "verified")

        axon = bt.Axon(wallet=wallet, port=args.port, ip="127.0.0.1", external_ip="127.0.0.1")
        axon.fast_config.host = "127.0.0.1"
        axon.attach(forward_fn=forward, blacklist_fn=blacklist, verify_fn=verify)
        miner.axon = axon

        axon.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (axon.fast_server.started and accepts_connections(args.port)):
            if time.monotonic() > deadline:
                fail(f"the axon did not start on 127.0.0.1:{args.port} in {STARTUP_SECONDS:.0f} s")
            if stop.wait(0.02):
                return
        sys.stdout.write(f"listening 127.0.0.1:{args.port} hotkey {miner.ss58}\n")
        sys.stdout.flush()
        while not stop.wait(1.0):
            pass
        axon.stop()
    finally:
        shutil.rmtree(wallet_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
