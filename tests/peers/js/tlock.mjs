#!/usr/bin/env node
// Interop peer for veil's tests: drives the real tlock-js (pinned in package.json) offline.
//
//   node tlock.mjs encrypt --info INFO.json --round R          stdin: plaintext   stdout: armored age
//   node tlock.mjs decrypt --info INFO.json --beacon BEACON.json stdin: age        stdout: plaintext
//   node tlock.mjs sign    --sk HEX --round R   stdout: 48-byte G1 signature hex (bls-unchained-g1-rfc9380)
//   node tlock.mjs pubkey  --sk HEX             stdout: 96-byte G2 public key hex
//
// INFO.json is a drand /info v1 document; BEACON.json is {"round", "signature", "randomness"?}.
// stdout carries only data; on failure the exit code is 1 and stderr holds one line.

import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";

// tlock-js logs the beacon with console.log and drand-client reports failed verifications with
// console.error. Keep stdout for data: hold every library message, print them to stderr on
// success, and fold them into the single error line on failure.
const libraryLog = [];
for (const level of ["log", "info", "debug", "warn", "error"]) {
  console[level] = (...args) => libraryLog.push(args.map(String).join(" "));
}

// Imported after the console is redirected (dynamic import), so nothing leaks to stdout.
const { timelockEncrypt, timelockDecrypt } = await import("tlock-js");

const RFC9380_G1_DST = "BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
const USAGE =
  "usage: tlock.mjs encrypt --info F --round R | decrypt --info F --beacon F | sign --sk HEX --round R | pubkey --sk HEX";

function fail(message) {
  throw new Error(message);
}

// "--name value" pairs only; an unknown or repeated flag is an error, not silently ignored.
function parseFlags(argv, allowed) {
  const flags = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, "");
    if (!argv[i]?.startsWith("--") || !allowed.includes(name)) fail(`unexpected argument ${argv[i]}`);
    if (name in flags) fail(`--${name} given twice`);
    if (i + 1 >= argv.length) fail(`--${name} needs a value`);
    flags[name] = argv[i + 1];
  }
  for (const name of allowed) if (!(name in flags)) fail(`missing --${name}`);
  return flags;
}

// A round is a decimal integer that a JS number holds exactly (tlock-js uses numbers); whether
// it is acceptable (e.g. 0) is left to tlock-js itself.
function parseRound(text) {
  if (!/^[0-9]+$/.test(text)) fail(`round must be a decimal integer, got ${JSON.stringify(text)}`);
  const round = Number(text);
  if (!Number.isSafeInteger(round)) fail(`round out of range: ${text}`);
  return round;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    fail(`cannot read JSON ${path}: ${e.message}`);
  }
}

// drand-client's round math adds and multiplies these: a string would silently concatenate.
function loadInfo(path) {
  const info = readJson(path);
  for (const key of ["public_key", "hash", "schemeID"]) {
    if (typeof info[key] !== "string") fail(`${path}: "${key}" must be a string`);
  }
  for (const key of ["period", "genesis_time"]) {
    if (!Number.isFinite(info[key])) fail(`${path}: "${key}" must be a number`);
  }
  return info;
}

// The beacon exactly as a drand relay would serve it; randomness = sha256(signature) when absent.
// Nothing is checked here on purpose: drand-client verifies round, randomness and signature.
function loadBeacon(path) {
  const b = readJson(path);
  if (typeof b.signature !== "string") fail(`${path}: "signature" must be a hex string`);
  const round = typeof b.round === "string" ? Number(b.round) : b.round;
  const randomness =
    b.randomness ?? createHash("sha256").update(Buffer.from(b.signature, "hex")).digest("hex");
  return { round, signature: b.signature, randomness };
}

// Stands in for drand-client's HttpChainClient: the same shape, no network. Verification stays on
// (disableBeaconVerification: false) so drand-client checks the beacon against the info itself.
function offlineClient(info, beacon) {
  return {
    options: { disableBeaconVerification: false, noCache: true },
    chain: () => ({ baseUrl: "offline:", info: async () => info }),
    get: async (round) => {
      if (!beacon) fail(`no beacon supplied (round ${round} requested)`);
      return beacon;
    },
    latest: async () => fail("offline client has no latest beacon"),
  };
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function blsCurve() {
  const { bls12_381 } = await import("@noble/curves/bls12-381");
  return bls12_381;
}

function parseSecretKey(hex) {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) fail("--sk must be 32 bytes of hex");
  return Buffer.from(hex, "hex");
}

async function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case "encrypt": {
      const { info, round } = parseFlags(rest, ["info", "round"]);
      const plaintext = await readStdin();
      const armored = await timelockEncrypt(parseRound(round), plaintext, offlineClient(loadInfo(info)));
      return Buffer.from(armored, "ascii");
    }
    case "decrypt": {
      const { info, beacon } = parseFlags(rest, ["info", "beacon"]);
      const client = offlineClient(loadInfo(info), loadBeacon(beacon));
      const input = await readStdin();
      // timelockDecrypt takes a string: armored text is ASCII; a binary age file must be given
      // as a latin1 ("binary") string, which is what tlock-js's own armor decoder produces.
      const plaintext = await timelockDecrypt(input.toString("latin1"), client);
      return Buffer.from(plaintext);
    }
    case "sign": {
      // The drand bls-unchained-g1-rfc9380 beacon: a G1 signature over sha256(u64be(round)).
      const { sk, round } = parseFlags(rest, ["sk", "round"]);
      const roundBytes = Buffer.alloc(8);
      roundBytes.writeBigUInt64BE(BigInt(parseRound(round)));
      const message = createHash("sha256").update(roundBytes).digest();
      const bls = await blsCurve();
      const short = bls.shortSignatures;
      const signature = short.sign(short.hash(message, RFC9380_G1_DST), parseSecretKey(sk));
      return Buffer.from(signature.toHex(true) + "\n", "ascii");
    }
    case "pubkey": {
      const { sk } = parseFlags(rest, ["sk"]);
      const bls = await blsCurve();
      return Buffer.from(bls.shortSignatures.getPublicKey(parseSecretKey(sk)).toHex(true) + "\n", "ascii");
    }
    default:
      fail(USAGE);
  }
}

try {
  const output = await main(process.argv.slice(2));
  for (const line of libraryLog) process.stderr.write(`tlock-js: ${line}\n`);
  process.stdout.write(output);
} catch (e) {
  const said = libraryLog.length ? ` (library said: ${libraryLog.join("; ")})` : "";
  const line = `tlock.mjs ${process.argv[2] ?? ""}: ${e?.message ?? e}${said}`;
  process.stderr.write(line.replace(/\s*\n\s*/g, " ") + "\n");
  process.exitCode = 1;
}
