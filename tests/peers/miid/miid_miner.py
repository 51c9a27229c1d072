"""MIID's miner answer (neurons/miner.py and MIID/miner/* at d71f292bc), as plain functions
over JSON dicts, so the bittensor 10.5 axon (../bittensor/axon_miner.py) and the bittensor 11
btauth server (../bittensor11/btauth_peer.py) answer with the same code. The signing and sealing
functions come from the caller's bittensor stack; images are small generated PNGs instead of
FLUX output.

For an ImageRequest `req` the answer is, as MIID's miner gives it:
    cid = req["challenge_id"] or "sandbox_test"
    path_signature = sign(f"{cid}:{ss58}").hex()[:16]
    per variation_requests[i]: a PNG distinct per (ss58, cid, i), image_hash = its sha256 hex,
        signature = sign(f"challenge:{cid}:hash:{image_hash}").hex() (no 0x), sealed, stored
        under KEY = submissions/{cid}/{ss58}/{path_signature}/{seed}/{type, + -> _}_{unix}.png.tlock
        (no index: MIID/miner/s3_upload.py). FLUX takes seconds per image, so two images never
        share a second; here, when a key would repeat (the two background_edit requests), the
        miner waits for the clock's next second.
    with `capture`, one real screen-replay capture per answer, as neurons/miner.py attaches it:
        two different photos (distinct per answer: never the same capture twice), keys of type
        screen_replay and screen_replay_angle2 under the capture's seed name (the daily seed's
        filename when the request carries one, else a pool image), s3_key/image_hash/signature
        for angle 1, the *_angle2 fields for angle 2, and a screen_replay_uav report.

Sealing (`seal`):
    "round" encrypt_at_round(png, target_drand_round): exactly the target (lets a test open
            what it sealed with a known beacon);
    "miid"  as MIID/miner/drand_encrypt.py: n_blocks = max(1, target - latest_round) and
            encrypt(png, n_blocks, block_time=3.0), which picks the round from the wall clock
            (target - 1 most of the time). MIID asks a drand relay for latest_round; offline,
            it is quicknet's current round by the clock (what the relay answers).
"""

import hashlib
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Callable, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bittensor"))
import tiny_png  # noqa: E402

QUICKNET_GENESIS, QUICKNET_PERIOD = 1692803367, 3
POOL_SEED = "fixed_01.png"


def quicknet_current_round(now: Optional[float] = None) -> int:
    """The latest quicknet round emitted at `now` (drand's rule: 1 at genesis)."""
    now = time.time() if now is None else now
    return int((now - QUICKNET_GENESIS) // QUICKNET_PERIOD) + 1


def strip_image_suffix(name: str) -> str:
    for ext in (".png", ".jpg", ".jpeg"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


class MiidMiner:
    """One miner: `sign(bytes) -> bytes` (sr25519 by the hotkey), `seal_at_round(data, round)`
    and `seal_n_blocks(data, n_blocks, block_time)` -> (ciphertext, round), objects written
    under `store_dir`."""

    def __init__(
        self,
        ss58: str,
        sign: Callable[[bytes], bytes],
        seal_at_round: Callable[[bytes, int], tuple],
        seal_n_blocks: Callable[[bytes, int, float], tuple],
        store_dir: str,
        seal: str = "round",
        capture: bool = False,
    ):
        if seal not in ("round", "miid"):
            raise ValueError(f"seal must be round or miid, not {seal!r}")
        self.ss58 = ss58
        self.sign = sign
        self.seal_at_round = seal_at_round
        self.seal_n_blocks = seal_n_blocks
        self.store_dir = os.path.realpath(store_dir)
        self.seal_mode = seal
        self.capture = capture
        self.answers = 0
        self.lock = threading.Lock()

    def store(self, key: str, data: bytes) -> None:
        path = os.path.realpath(os.path.join(self.store_dir, key))
        if not path.startswith(self.store_dir + os.sep):
            raise ValueError(f"key leaves the store: {key!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def sealed(self, data: bytes, target: int) -> bytes:
        if self.seal_mode == "round":
            ciphertext, _ = self.seal_at_round(data, target)
        else:
            n_blocks = max(1, int(target) - quicknet_current_round())
            ciphertext, _ = self.seal_n_blocks(data, n_blocks, 3.0)
        return bytes(ciphertext)

    def attest(self, cid: str, data: bytes) -> tuple:
        image_hash = hashlib.sha256(data).hexdigest()
        return image_hash, self.sign(f"challenge:{cid}:hash:{image_hash}".encode()).hex()

    def key(self, cid: str, path_signature: str, seed: str, kind: str, used: set) -> str:
        while True:
            leaf = f"{kind.replace('+', '_')}_{int(time.time())}.png.tlock"
            key = f"submissions/{cid}/{self.ss58}/{path_signature}/{seed}/{leaf}"
            if key not in used:
                used.add(key)
                return key
            time.sleep(1.0 - (time.time() % 1.0) + 0.01)

    def answer(self, req: dict) -> list:
        """The s3_submissions (as dicts) for the ImageRequest `req`."""
        with self.lock:
            self.answers += 1
            answer_no = self.answers
        cid = req.get("challenge_id") or "sandbox_test"
        target = int(req["target_drand_round"])
        seed = strip_image_suffix(req["image_filename"])
        path_signature = self.sign(f"{cid}:{self.ss58}".encode()).hex()[:16]
        used: set = set()
        out = []
        for i, vr in enumerate(req.get("variation_requests") or []):
            png = tiny_png.make_png(f"{self.ss58}|{cid}|{i}".encode())
            image_hash, signature = self.attest(cid, png)
            key = self.key(cid, path_signature, seed, vr["type"], used)
            self.store(key, self.sealed(png, target))
            out.append(
                {
                    "s3_key": key,
                    "image_hash": image_hash,
                    "signature": signature,
                    "variation_type": vr["type"],
                    "path_signature": path_signature,
                }
            )
        if self.capture:
            out.append(self.capture_submission(req, cid, path_signature, target, answer_no, used))
        return out

    def capture_submission(self, req, cid, path_signature, target, answer_no, used) -> dict:
        seed_image = req.get("daily_seed_filename") or POOL_SEED
        seed = seed_image.rsplit(".", 1)[0]
        photos = [
            tiny_png.make_png(f"{self.ss58}|capture {answer_no}|angle {a}".encode(), 24, 18)
            for a in (1, 2)
        ]
        (hash1, sig1), (hash2, sig2) = (self.attest(cid, p) for p in photos)
        key1 = self.key(cid, path_signature, seed, "screen_replay", used)
        key2 = self.key(cid, path_signature, seed, "screen_replay_angle2", used)
        self.store(key1, self.sealed(photos[0], target))
        self.store(key2, self.sealed(photos[1], target))
        return {
            "s3_key": key1,
            "image_hash": hash1,
            "signature": sig1,
            "variation_type": "screen_replay",
            "path_signature": path_signature,
            "s3_key_angle2": key2,
            "image_hash_angle2": hash2,
            "signature_angle2": sig2,
            "screen_replay_uav": {
                "seed_image": seed_image,
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                "camera_used": "veil interop camera",
                "device_photographed": "tablet",
                "moire_pixel_grid": True,
                "screen_glare_hotspots": answer_no % 2 == 0,
                "perspective_keystone_distortion": True,
                "gamma_contrast_shift": False,
                "edge_crop_cues": answer_no % 3 == 0,
            },
        }
