#!/usr/bin/env python3
"""Interop peer for veil's tests: drives the real bittensor-wallet wheel (requirements.txt) and,
for `verify-strict`, the independent py-sr25519-bindings engine.

    btwallet.py address SEEDHEX                       stdout: SS58 address
    btwallet.py sign SEEDHEX MSGHEX                   stdout: signature, 128 hex chars
    btwallet.py sign-wrapped SEEDHEX MSGHEX           stdout: signature over <Bytes>msg</Bytes>
    btwallet.py verify SS58 MSGHEX SIGHEX             exit 0 if valid (stdout empty)
    btwallet.py verify-strict SS58 MSGHEX SIGHEX      exit 0 if valid (stdout empty)
    btwallet.py make-hotkey WALLET_PATH NAME HOTKEY SEEDHEX
                                                      stdout: absolute path of the hotkey file

SEEDHEX is the 32-byte sr25519 mini secret (a keyfile's `secretSeed`); every hex argument is
lowercase without `0x` (MSGHEX may be empty, for the empty message). Every stdout result is one
line ending in "\\n". On failure (including a signature that does not verify) the exit code is 1,
stdout is empty and stderr holds one line. Nothing here touches stdin or the network.

Behaviour of the 4.1.1 wheel this relies on (found by introspection and by trying it):
  - Keypair.create_from_seed(seed: str) wants a hex *string* (with or without 0x, any case);
    bytes raise TypeError. We hand it the validated lowercase hex.
  - Keypair.sign(data) treats a str starting with "0x" as hex, so we always pass bytes.
  - Keypair(ss58_address=...).verify(data, signature) takes the signature as bytes (a bare hex
    str raises) and, when the plain check fails, retries over b"<Bytes>" + data + b"</Bytes>".
    py-sr25519-bindings' sr25519.verify(signature, message, public_key) has no such retry.
  - Wallet.regenerate_hotkey(seed=..., use_password=False, overwrite=True, suppress=True) writes
    hotkeys/<HOTKEY> (plaintext JSON, mode 0600) and hotkeys/<HOTKEY>pub.txt under
    WALLET_PATH/NAME. With overwrite=False it would prompt on stdout instead.
"""

import hashlib
import os
import re
import sys

USAGE = (
    "usage: btwallet.py address SEEDHEX | sign SEEDHEX MSGHEX | sign-wrapped SEEDHEX MSGHEX"
    " | verify SS58 MSGHEX SIGHEX | verify-strict SS58 MSGHEX SIGHEX"
    " | make-hotkey WALLET_PATH NAME HOTKEY SEEDHEX"
)

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def parse_hex(what: str, text: str, length: int | None = None) -> bytes:
    # Stricter than bytes.fromhex, which also takes upper case and spaces between bytes.
    if not _HEX.fullmatch(text):
        raise ValueError(f"{what} must be lowercase hex without 0x, got {text!r}")
    data = bytes.fromhex(text)
    if length is not None and len(data) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(data)}")
    return data


def keypair_from_seed(seed_hex: str):
    from bittensor_wallet import Keypair

    parse_hex("SEEDHEX", seed_hex, 32)
    return Keypair.create_from_seed(seed_hex)


def wrap(message: bytes) -> bytes:
    return b"<Bytes>" + message + b"</Bytes>"


# --- SS58 for verify-strict, done here so that the strict path shares no code with the wallet.
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def ss58_public_key(address: str) -> bytes:
    """Public key of a simple-format SS58 address (one prefix byte, 32-byte key, 2 check bytes)."""
    number = 0
    for ch in address:
        digit = _B58.find(ch)
        if digit < 0:
            raise ValueError(f"SS58 address has a non-base58 character {ch!r}")
        number = number * 58 + digit
    leading_zeros = len(address) - len(address.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\0" * leading_zeros + body
    if len(raw) != 35 or raw[0] >= 64:
        raise ValueError("SS58 address is not a one-byte-prefix address of a 32-byte key")
    checksum = hashlib.blake2b(b"SS58PRE" + raw[:33], digest_size=64).digest()[:2]
    if checksum != raw[33:]:
        raise ValueError("SS58 address has a bad checksum")
    return raw[1:33]


class StdoutToStderr:
    """Points file descriptor 1 at stderr while the wheel runs, so nothing it prints (prompts,
    notices from native code) can mix with the result we write on stdout afterwards."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        return False


def make_hotkey(wallet_path: str, name: str, hotkey: str, seed_hex: str) -> str:
    from bittensor_wallet import Wallet

    parse_hex("SEEDHEX", seed_hex, 32)
    for what, value in (("WALLET_PATH", wallet_path), ("NAME", name), ("HOTKEY", hotkey)):
        if not value:
            raise ValueError(f"{what} must not be empty")
    # Never let the wheel wait for an answer on an inherited stdin.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    with StdoutToStderr():
        wallet = Wallet(name=name, hotkey=hotkey, path=wallet_path)
        wallet.regenerate_hotkey(
            seed=seed_hex, use_password=False, overwrite=True, suppress=True
        )
        path = wallet.hotkey_file.path
        # Read it back through the wheel, as a miner would load it.
        loaded = wallet.get_hotkey()
        expected = keypair_from_seed(seed_hex).ss58_address
    if loaded.ss58_address != expected:
        raise ValueError(f"hotkey file holds {loaded.ss58_address}, seed gives {expected}")
    return os.path.abspath(path)


def run(argv: list[str]) -> str:
    if not argv:
        raise ValueError(USAGE)
    command, args = argv[0], argv[1:]
    if command == "address" and len(args) == 1:
        return keypair_from_seed(args[0]).ss58_address
    if command in ("sign", "sign-wrapped") and len(args) == 2:
        keypair = keypair_from_seed(args[0])
        message = parse_hex("MSGHEX", args[1])
        if command == "sign-wrapped":
            message = wrap(message)
        signature = keypair.sign(message)
        if len(signature) != 64:
            raise ValueError(f"wheel returned a {len(signature)}-byte signature")
        return signature.hex()
    if command in ("verify", "verify-strict") and len(args) == 3:
        address = args[0]
        message = parse_hex("MSGHEX", args[1])
        signature = parse_hex("SIGHEX", args[2])
        if command == "verify":
            from bittensor_wallet import Keypair

            ok = Keypair(ss58_address=address).verify(message, signature)
        else:
            import sr25519

            ok = sr25519.verify(signature, message, ss58_public_key(address))
        if ok is not True:
            raise ValueError(f"signature does not verify ({command})")
        return ""
    if command == "make-hotkey" and len(args) == 4:
        return make_hotkey(*args)
    raise ValueError(USAGE)


def main() -> int:
    try:
        output = run(sys.argv[1:])
    except Exception as e:  # every failure becomes one stderr line and exit code 1
        message = " ".join(f"{type(e).__name__}: {e}".split())
        print(f"btwallet.py: {message}", file=sys.stderr)
        return 1
    if output:
        sys.stdout.buffer.write(output.encode("ascii") + b"\n")
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
