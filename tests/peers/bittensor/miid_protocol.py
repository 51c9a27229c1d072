"""MIID's Phase 4 wire protocol (MIID/protocol.py at HEAD, per the reference notes §1.2),
declared here on the real bittensor 10.5 `bt.Synapse`, not imported from MIID.

IdentitySynapse has no required fields and no `required_hash_fields`, exactly as MIID's: the
body hash the dendrite signs is then sha3-256 of the empty string, and no
`bt_header_input_obj_*` headers are sent. The screen_replay-only `screen_replay_uav` field of
S3Submission is left out (no test sends it; pydantic ignores unknown fields).
"""

from typing import List, Optional

from pydantic import BaseModel

import offline_bittensor

bt = offline_bittensor.load()


class VariationRequest(BaseModel):
    type: str  # pose_edit, lighting_edit, ..., "a+b" combinations, screen_replay
    intensity: str  # light, medium, far
    description: str = ""
    detail: str = ""


class ImageRequest(BaseModel):
    base_image: str  # base64 of the seed image
    image_filename: str
    variation_requests: List[VariationRequest] = []
    target_drand_round: int
    reveal_timestamp: int
    challenge_id: Optional[str] = None
    daily_seed_image: Optional[str] = None
    daily_seed_filename: Optional[str] = None
    real_screen_replay_instructions: Optional[str] = None


class S3Submission(BaseModel):
    s3_key: str
    image_hash: str  # sha256 hex of the plaintext PNG
    signature: str  # sr25519 hex (no 0x) over b"challenge:{cid}:hash:{image_hash}"
    variation_type: str
    path_signature: str  # first 16 hex chars of a signature over b"{cid}:{ss58}"
    s3_key_angle2: Optional[str] = None
    image_hash_angle2: Optional[str] = None
    signature_angle2: Optional[str] = None


class IdentitySynapse(bt.Synapse):
    timeout: float = 120.0
    image_request: Optional[ImageRequest] = None
    s3_submissions: Optional[List[S3Submission]] = None
    process_time: Optional[float] = None

    def deserialize(self) -> Optional[List[S3Submission]]:
        return self.s3_submissions


def signed_image_message(challenge_id: str, image_hash: str) -> bytes:
    """The bytes a miner signs for one image (MIID/miner at HEAD)."""
    return f"challenge:{challenge_id}:hash:{image_hash}".encode()
