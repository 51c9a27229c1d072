#!/usr/bin/env python3
"""bittensor-drand's side of benches/compare: the same loops as veil-compare (src/bin/veil-compare.rs).

    btdrand_bench.py make DIR          write DIR/btd-{1KiB,1MiB}.bin (sealed from DIR/payload-*.bin)
    btdrand_bench.py steady DIR SECS   time encrypt_at_round and decrypt_with_signature
    btdrand_bench.py cold DIR          time the first encrypt_at_round of a fresh process

Each operation runs for SECS seconds (at least 5 calls), three times over; the best mean is
printed as `op<TAB>ms_per_op<TAB>iterations`, exactly as veil-compare does. The wheel prepares
nothing across calls (every call hashes the round to the curve and pairs), which is its steady
state. Ciphertexts it opens are the ones it made, which veil also opens.
"""

import sys
import time
from pathlib import Path

# drand quicknet round 1000 (public beacon), as in veil-compare.
SIG = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39"
ROUND = 1000
SIZES = ["1KiB", "1MiB"]


def timed(secs, f):
    for _ in range(2):
        f()
    best, total = float("inf"), 0
    for _ in range(3):
        start, n = time.perf_counter(), 0
        while n < 5 or time.perf_counter() - start < secs:
            f()
            n += 1
        best = min(best, (time.perf_counter() - start) * 1e3 / n)
        total += n
    return best, total


def main(argv):
    mode, d = argv[0], Path(argv[1])
    start = time.perf_counter()
    import bittensor_drand as btd

    if mode == "cold":
        pt = (d / "payload-1MiB.bin").read_bytes()
        start = time.perf_counter()
        btd.encrypt_at_round(pt, ROUND)
        print(f"cold first seal bittensor 1MiB\t{(time.perf_counter() - start) * 1e3:.4f}\t1")
        return
    for label in SIZES:
        pt = (d / f"payload-{label}.bin").read_bytes()
        if mode == "make":
            ct, r = btd.encrypt_at_round(pt, ROUND)
            assert r == ROUND
            (d / f"btd-{label}.bin").write_bytes(ct)
            continue
        secs = float(argv[2])
        ms, n = timed(secs, lambda: btd.encrypt_at_round(pt, ROUND))
        print(f"seal bittensor {label}\t{ms:.4f}\t{n}", flush=True)
        ct = (d / f"btd-{label}.bin").read_bytes()
        if btd.decrypt_with_signature(ct, SIG) != pt:
            raise SystemExit(f"btd-{label}.bin does not open to payload-{label}.bin")
        ms, n = timed(secs, lambda: btd.decrypt_with_signature(ct, SIG))
        print(f"open bittensor {label}\t{ms:.4f}\t{n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
