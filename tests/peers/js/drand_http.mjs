#!/usr/bin/env node
// Interop peer for veil's beacon server: drand's own JavaScript client (drand-client, the version
// tlock-js depends on) and tlock-js, talking HTTP to a drand chain URL.
//
//   node drand_http.mjs fetch   --url CHAIN_URL --chain-hash HEX --public-key HEX (--round R | --latest)
//                                                          stdout: {"round","signature","randomness"}
//   node drand_http.mjs decrypt --url CHAIN_URL --chain-hash HEX --public-key HEX
//                                                          stdin: age (armored or binary)  stdout: plaintext
//
// CHAIN_URL is http://HOST:PORT/{chainhash}. The client pins the chain: drand-client refuses an
// /info whose hash or public_key differs from --chain-hash/--public-key, and verifies every beacon
// (round, randomness = sha256(signature), BLS signature). --latest is drand-client's own "latest":
// fetchBeacon without a round, i.e. the round due now by the chain's clock.
// stdout carries only data; on failure the exit code is 1 and stderr holds one line.

import { createRequire } from "node:module";

// drand-client reports failed verifications with console.error and tlock-js logs the beacon with
// console.log. Keep stdout for data: hold every library message, print them to stderr on success,
// and fold them into the single error line on failure.
const libraryLog = [];
for (const level of ["log", "info", "debug", "warn", "error"]) {
  console[level] = (...args) => libraryLog.push(args.map(String).join(" "));
}

const USAGE =
  "usage: drand_http.mjs fetch --url U --chain-hash H --public-key K (--round R | --latest) | decrypt --url U --chain-hash H --public-key K";
// fetch has no timeout of its own: a server that never answers must not hang the test.
const DEADLINE_MS = 30_000;

function fail(message) {
  throw new Error(message);
}

// "--name value" pairs and bare "--name" switches; an unknown or repeated flag is an error, not
// silently ignored.
function parseFlags(argv, valued, switches = []) {
  const flags = {};
  for (let i = 0; i < argv.length; ) {
    const name = argv[i]?.startsWith("--") ? argv[i].slice(2) : undefined;
    if (name === undefined || !(valued.includes(name) || switches.includes(name))) {
      fail(`unexpected argument ${argv[i]}`);
    }
    if (name in flags) fail(`--${name} given twice`);
    if (switches.includes(name)) {
      flags[name] = true;
      i += 1;
      continue;
    }
    if (i + 1 >= argv.length) fail(`--${name} needs a value`);
    flags[name] = argv[i + 1];
    i += 2;
  }
  return flags;
}

function requireFlags(flags, names) {
  for (const name of names) if (!(name in flags)) fail(`missing --${name}`);
}

// A round is a decimal integer ≥ 1 that a JS number holds exactly. Round 0 is refused here:
// drand-client's fetchBeacon would silently read it as "latest".
function parseRound(text) {
  if (!/^[0-9]+$/.test(text)) fail(`round must be a decimal integer, got ${JSON.stringify(text)}`);
  const round = Number(text);
  if (!Number.isSafeInteger(round) || round < 1) fail(`round out of range: ${text}`);
  return round;
}

function parseChainUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    fail(`--url is not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`--url must be http(s): ${text}`);
  // drand-client appends "/info" and "/public/R" to the string as given.
  return text;
}

// The drand-client that tlock-js itself loads, not merely one that happens to be installed.
async function loadLibraries() {
  const here = createRequire(import.meta.url);
  const ours = here.resolve("drand-client");
  const tlocks = createRequire(here.resolve("tlock-js")).resolve("drand-client");
  if (ours !== tlocks) fail(`drand-client ${ours} is not the one tlock-js uses (${tlocks})`);
  const version = here("drand-client/package.json").version;
  // Imported after the console is redirected (dynamic import), so nothing leaks to stdout.
  // drand-client is CommonJS: its exports object is the default export.
  const drand = (await import("drand-client")).default;
  const { timelockDecrypt } = await import("tlock-js");
  return { drand, version, timelockDecrypt };
}

// drand-client's HTTP client pinned to one chain, with verification on and no caching.
function httpClient(drand, flags) {
  const opts = {
    disableBeaconVerification: false,
    noCache: true,
    chainVerificationParams: { chainHash: flags["chain-hash"], publicKey: flags["public-key"] },
  };
  const chain = new drand.HttpCachingChain(parseChainUrl(flags.url), opts);
  return new drand.HttpChainClient(chain, opts);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const CLIENT_FLAGS = ["url", "chain-hash", "public-key"];

async function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case "fetch": {
      const flags = parseFlags(rest, [...CLIENT_FLAGS, "round"], ["latest"]);
      requireFlags(flags, CLIENT_FLAGS);
      if (("round" in flags) === ("latest" in flags)) fail("give exactly one of --round R and --latest");
      const round = "round" in flags ? parseRound(flags.round) : undefined;
      const { drand, version } = await loadLibraries();
      const client = httpClient(drand, flags);
      // Verifies the chain info against the pinned hash and key, then the beacon itself.
      const beacon =
        round === undefined ? await drand.fetchBeacon(client) : await drand.fetchBeacon(client, round);
      libraryLog.push(`drand-client ${version} verified round ${beacon.round}`);
      const { signature, randomness } = beacon;
      return Buffer.from(JSON.stringify({ round: beacon.round, signature, randomness }) + "\n", "utf8");
    }
    case "decrypt": {
      const flags = parseFlags(rest, CLIENT_FLAGS);
      requireFlags(flags, CLIENT_FLAGS);
      const { drand, timelockDecrypt } = await loadLibraries();
      const client = httpClient(drand, flags);
      const input = await readStdin();
      // timelockDecrypt takes a string: armored text is ASCII; a binary age file must be given
      // as a latin1 ("binary") string, which is what tlock-js's own armor decoder produces.
      // tlock-js reads the round from the stanza, fetches that beacon through the client (which
      // verifies it), and decrypts.
      const plaintext = await timelockDecrypt(input.toString("latin1"), client);
      return Buffer.from(plaintext);
    }
    default:
      fail(USAGE);
  }
}

function describe(e) {
  // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, …) is in the cause.
  const cause = e?.cause?.message ?? e?.cause?.code;
  return `${e?.message ?? e}${cause ? ` (${cause})` : ""}`;
}

function report(message) {
  const said = libraryLog.length ? ` (library said: ${libraryLog.join("; ")})` : "";
  const line = `drand_http.mjs ${process.argv[2] ?? ""}: ${message}${said}`;
  process.stderr.write(line.replace(/\s*\n\s*/g, " ") + "\n");
}

const deadline = setTimeout(() => {
  report(`no answer within ${DEADLINE_MS / 1000} s`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

try {
  const output = await main(process.argv.slice(2));
  for (const line of libraryLog) process.stderr.write(`drand-client/tlock-js: ${line}\n`);
  process.stdout.write(output);
} catch (e) {
  report(describe(e));
  process.exitCode = 1;
}
