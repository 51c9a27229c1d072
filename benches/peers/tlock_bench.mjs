#!/usr/bin/env node
// tlock-js's side of benches/compare: the same loops as veil-compare (src/bin/veil-compare.rs).
//
//   node tlock_bench.mjs make DIR          write DIR/tljs-{1KiB,1MiB}.age (armored, from payload-*.bin)
//   node tlock_bench.mjs steady DIR SECS   time timelockEncrypt and timelockDecrypt
//   node tlock_bench.mjs cold DIR          time the first timelockEncrypt of a fresh process
//
// tlock-js comes from tests/peers/js (VEIL_PEER_NODE_DIR), installed from npm by
// scripts/setup-peers. The chain client is in memory (no network) and, as in veil's steady state,
// beacon verification is done once (cached): drand-client's check is disabled inside the loop.
// Output lines: op<TAB>ms_per_op<TAB>iterations.

import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

for (const level of ["log", "info", "debug", "warn"]) console[level] = () => {};
const require = createRequire(join(process.env.VEIL_PEER_NODE_DIR ?? ".", "package.json"));
const { timelockEncrypt, timelockDecrypt } = require("tlock-js");

// drand quicknet /info and round 1000 (public), as in veil-compare.
const INFO = {
  public_key:
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
  period: 3,
  genesis_time: 1692803367,
  hash: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
  groupHash: "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e",
  schemeID: "bls-unchained-g1-rfc9380",
  metadata: { beaconID: "quicknet" },
};
const SIG =
  "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";
const ROUND = 1000;
const BEACON = {
  round: ROUND,
  signature: SIG,
  randomness: createHash("sha256").update(Buffer.from(SIG, "hex")).digest("hex"),
};
const client = {
  options: { disableBeaconVerification: true, noCache: false },
  chain: () => ({ baseUrl: "memory:", info: async () => INFO }),
  get: async () => BEACON,
  latest: async () => BEACON,
};

async function timed(secs, f) {
  for (let i = 0; i < 2; i++) await f();
  let best = Infinity;
  let total = 0;
  for (let k = 0; k < 3; k++) {
    const start = performance.now();
    let n = 0;
    while (n < 5 || performance.now() - start < secs * 1e3) {
      await f();
      n++;
    }
    best = Math.min(best, (performance.now() - start) / n);
    total += n;
  }
  return [best, total];
}

const [mode, dir, secsText] = process.argv.slice(2);
if (mode === "cold") {
  const pt = readFileSync(join(dir, "payload-1KiB.bin"));
  const start = performance.now();
  await timelockEncrypt(ROUND, pt, client);
  console.error = () => {};
  process.stdout.write(`cold first seal age 1KiB\t${(performance.now() - start).toFixed(4)}\t1\n`);
} else {
  for (const label of ["1KiB", "1MiB"]) {
    const pt = readFileSync(join(dir, `payload-${label}.bin`));
    if (mode === "make") {
      writeFileSync(join(dir, `tljs-${label}.age`), await timelockEncrypt(ROUND, pt, client));
      continue;
    }
    const secs = Number(secsText);
    let [ms, n] = await timed(secs, () => timelockEncrypt(ROUND, pt, client));
    process.stdout.write(`seal age ${label}\t${ms.toFixed(4)}\t${n}\n`);
    const ct = readFileSync(join(dir, `tljs-${label}.age`), "latin1");
    if (!Buffer.from(await timelockDecrypt(ct, client)).equals(pt)) {
      throw new Error(`tljs-${label}.age does not open to payload-${label}.bin`);
    }
    [ms, n] = await timed(secs, () => timelockDecrypt(ct, client));
    process.stdout.write(`open age ${label}\t${ms.toFixed(4)}\t${n}\n`);
    // tlock-js's default: drand-client verifies the beacon on every decryption.
    const verifying = { ...client, options: { ...client.options, disableBeaconVerification: false } };
    [ms, n] = await timed(secs, () => timelockDecrypt(ct, verifying));
    process.stdout.write(`open age ${label} verifying\t${ms.toFixed(4)}\t${n}\n`);
  }
}
