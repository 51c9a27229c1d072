"""MIID's Phase 4 wire protocol (MIID/protocol.py at HEAD, per the reference notes §1.2),
declared here on the real bittensor 10.5 `bt.Synapse`, not imported from MIID; the records
(VariationRequest, ImageRequest, S3Submission) come from ../py/miid_models.py.

IdentitySynapse has no required fields and no `required_hash_fields`, exactly as MIID's: the
body hash the dendrite signs is then sha3-256 of the empty string, and no
`bt_header_input_obj_*` headers are sent.
"""

import os
import sys
from typing import List, Optional

import offline_bittensor

# The record models are the ones tests/peers/py/miid_models.py declares (pydantic only, no
# bittensor), so both peers parse exactly the same shapes.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from miid_models import ImageRequest, S3Submission, VariationRequest  # noqa: E402

__all__ = ["IdentitySynapse", "ImageRequest", "S3Submission", "VariationRequest", "bt"]

bt = offline_bittensor.load()


class IdentitySynapse(bt.Synapse):
    timeout: float = 120.0
    image_request: Optional[ImageRequest] = None
    s3_submissions: Optional[List[S3Submission]] = None
    process_time: Optional[float] = None

    def deserialize(self) -> Optional[List[S3Submission]]:
        return self.s3_submissions


def seed_from_hex(seed_hex: str) -> bytes:
    """A 32-byte sr25519 mini secret from hex (any case, `0x` allowed); ValueError otherwise."""
    raw = seed_hex[2:] if seed_hex.startswith(("0x", "0X")) else seed_hex
    try:
        seed = bytes.fromhex(raw)
    except ValueError:
        raise ValueError(f"--seed is not hex: {seed_hex!r}") from None
    if len(seed) != 32:
        raise ValueError(f"--seed is {len(seed)} bytes, not 32")
    return seed


def signed_image_message(challenge_id: str, image_hash: str) -> bytes:
    """The bytes a miner signs for one image (MIID/miner at HEAD)."""
    return f"challenge:{challenge_id}:hash:{image_hash}".encode()
