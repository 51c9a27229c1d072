#!/usr/bin/env python3
"""Interop peer for veil's tests: a MIID-style Phase 4 miner on a real bittensor 10.5 `bt.Axon`.

    axon_miner.py --seed HEX32 --port P --store-dir DIR --allow SS58 [--allow SS58]...
                  [--record FILE] [--seal round|miid] [--capture]

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

forward: MIID's miner answer (neurons/miner.py at d71f292bc) from ../miid/miid_miner.py, with
generated PNGs instead of FLUX: per variation a signed, sealed image stored under DIR/KEY with
MIID's index-less KEY = submissions/{cid}/{ss58}/{path_signature}/{seed}/{type}_{unix}.png.tlock,
answered as S3Submission(s3_key, image_hash, signature, variation_type, path_signature).
--seal round (default) seals with bittensor_drand.encrypt_at_round(png, target_drand_round);
--seal miid as MIID/miner/drand_encrypt.py: bittensor.timelock.encrypt(png, n_blocks=max(1,
target - latest_round), block_time=3.0), latest_round by the clock. --capture adds one real
screen-replay capture per answer (both angles and a screen_replay_uav report). A KEY that would
leave DIR makes forward fail (500).

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
from bittensor_wallet import Keypair, Wallet
from miid_protocol import IdentitySynapse

import bittensor_drand

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "miid"))
from miid_miner import MiidMiner  # noqa: E402

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


class Miner:
    def __init__(self, keypair: Keypair, answers: MiidMiner, allow, record):
        self.keypair = keypair
        self.ss58 = keypair.ss58_address
        self.answers = answers
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

    def forward(self, synapse: IdentitySynapse) -> IdentitySynapse:
        req = synapse.image_request
        if req is None:
            synapse.s3_submissions = []
            return synapse
        base64.b64decode(req.base_image, validate=True)  # as MIID: the seed image must decode
        answer = self.answers.answer(req.model_dump())
        synapse.s3_submissions = [mp.S3Submission(**s) for s in answer]
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
    p.add_argument("--seal", choices=("round", "miid"), default="round")
    p.add_argument("--capture", action="store_true")
    args = p.parse_args()

    try:
        seed = mp.seed_from_hex(args.seed)
    except ValueError as e:
        fail(str(e))
    if not 1024 < args.port < 65535:
        fail(f"--port {args.port}: the axon accepts 1025..65534 only")
    os.makedirs(args.store_dir, exist_ok=True)
    keypair = Keypair.create_from_seed(seed.hex())
    answers = MiidMiner(
        keypair.ss58_address,
        sign=keypair.sign,
        seal_at_round=bittensor_drand.encrypt_at_round,
        # bittensor.timelock.encrypt (bittensor.extras.timelock) is this function, given bytes.
        seal_n_blocks=lambda data, n, block_time: bt.timelock.encrypt(data, n_blocks=n, block_time=block_time),
        store_dir=args.store_dir,
        seal=args.seal,
        capture=args.capture,
    )
    miner = Miner(keypair, answers, args.allow, args.record)

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
