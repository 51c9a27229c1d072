#!/usr/bin/env python3
"""Interop peer for veil's tests: drives the real bittensor-drand wheel (requirements.txt).

    btdrand.py encrypt-at-round R            stdin: plaintext bytes   stdout: envelope bytes
    btdrand.py decrypt-with-signature SIGHEX stdin: envelope bytes    stdout: plaintext bytes
    btdrand.py commit-v2 -                   stdin: JSON arguments      stdout: JSON result

commit-v2 calls get_encrypted_commit_v2 (timelocked weights) with the JSON's uids, weights,
version_key, last_epoch_block, pending_epoch_at, subnet_epoch_index, tempo,
blocks_since_last_step, current_block, subnet_reveal_period_epochs, hotkey_hex and either
block_time, or target_round with blocks_until_ingest: then block_time is chosen just before the
call so that the wheel's round lands mid-way through target_round (a round whose beacon is known,
so the commit can be opened). It prints {"commit": hex, "round": r, "block_time": bt,
"now_before": t0, "now_after": t1} (t0, t1: the wall clock around the call).

The envelope is what bittensor_drand.encrypt_at_round returns: SCALE UserData{encrypted_data:
Vec<u8>, reveal_round: u64} around an old-layout TLE ciphertext, for the compiled-in quicknet key.
Everything on stdin/stdout is raw bytes; on failure the exit code is 1 and stderr holds one line.

Real signatures of the 2.0.0 wheel (found by introspection):
    encrypt_at_round(data: bytes, reveal_round: int) -> tuple[bytes, int]
    decrypt_with_signature(encrypted_data: bytes, signature_hex: str) -> bytes
Both refuse bytearray/memoryview (only `bytes`), and signature_hex must be `str`.
"""

import sys

USAGE = "usage: btdrand.py encrypt-at-round R | decrypt-with-signature SIGHEX | commit-v2 -"


def parse_round(text: str) -> int:
    # Decimal digits only: int() would also take "+5", " 5" or "1_000". The range (u64) is
    # left to the wheel, which raises OverflowError beyond it.
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"round must be a decimal integer, got {text!r}")
    return int(text)


def run(argv: list[str]) -> bytes:
    if len(argv) != 2:
        raise ValueError(USAGE)
    command, arg = argv
    # Imported here so that a usage error does not depend on the wheel being installed.
    import bittensor_drand

    # bytes(), not the buffer itself: the wheel accepts only `bytes` objects.
    data = bytes(sys.stdin.buffer.read())
    if command == "encrypt-at-round":
        reveal_round = parse_round(arg)
        envelope, returned_round = bittensor_drand.encrypt_at_round(data, reveal_round)
        if returned_round != reveal_round:
            raise ValueError(f"wheel returned round {returned_round}, asked for {reveal_round}")
        return envelope
    if command == "commit-v2":
        import json
        import time

        a = json.loads(data)
        if "target_round" in a:
            when = 1692803367 + 3 * int(a["target_round"]) + 1.5
            block_time = (when - time.time()) / int(a["blocks_until_ingest"])
        else:
            block_time = float(a["block_time"])
        t0 = time.time()
        commit, reveal_round = bittensor_drand.get_encrypted_commit_v2(
            a["uids"], a["weights"], a["version_key"], a["last_epoch_block"],
            a["pending_epoch_at"], a["subnet_epoch_index"], a["tempo"],
            a["blocks_since_last_step"], a["current_block"], a["subnet_reveal_period_epochs"],
            block_time, bytes.fromhex(a["hotkey_hex"]))
        t1 = time.time()
        return json.dumps({"commit": bytes(commit).hex(), "round": reveal_round,
                           "block_time": block_time, "now_before": t0,
                           "now_after": t1}).encode()
    if command == "decrypt-with-signature":
        # The hex string goes to the wheel untouched, so tests see how it parses it
        # (it accepts upper case, refuses a 0x prefix).
        return bittensor_drand.decrypt_with_signature(data, arg)
    raise ValueError(USAGE)


def main() -> int:
    try:
        output = run(sys.argv[1:])
    except Exception as e:  # every failure becomes one stderr line and exit code 1
        message = " ".join(f"{type(e).__name__}: {e}".split())
        print(f"btdrand.py: {message}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(output)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
