// veil's test harness for a subtensor runtime under chopsticks, written with
// polkadot.js (@polkadot/api, the version chopsticks ships): sets a subnet up
// as the sudo key, registers neurons, reads storage, and decodes extrinsics
// veil signed, independently of veil. Every command prints one JSON document.
//
//   node chain.mjs setup URL SPEC.json     SPEC: {owner_seed, subnets: [{hotkeys: [seed…], commit_reveal, …}]}
//   node chain.mjs sudo URL PALLET CALL ARGS_JSON
//   node chain.mjs read URL PALLET ITEM KEYS_JSON
//   node chain.mjs set-storage URL JSON        chopsticks' dev_setStorage
//   node chain.mjs decode METADATA.hex EXTRINSIC_HEX SPEC TX GENESIS BLOCK [USER_EXTENSIONS.json]
//     decodes a signed extrinsic under that metadata and checks its sr25519
//     signature over the payload polkadot.js builds from the same fields
import { readFileSync } from 'node:fs';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { TypeRegistry, Metadata } from '@polkadot/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import { blake2AsU8a, signatureVerify } from '@polkadot/util-crypto';

const [cmd, ...args] = process.argv.slice(2);

function die(msg) {
  process.stderr.write(`chain.mjs: ${msg}\n`);
  process.exit(2);
}

async function connect(url) {
  const provider = new WsProvider(url);
  return ApiPromise.create({ provider, noInitWarn: true });
}

// Submits `tx` signed by `pair` and waits for its block; a dispatch error
// fails the harness with the pallet's error name.
// Nonces are counted here from the account's next index: chopsticks answers
// `system_accountNextIndex` from a head that may lag the block just built.
const nonces = new Map();
async function submit(api, tx, pair) {
  if (!nonces.has(pair.address)) {
    nonces.set(pair.address, (await api.rpc.system.accountNextIndex(pair.address)).toNumber());
  }
  const nonce = nonces.get(pair.address);
  nonces.set(pair.address, nonce + 1);
  return new Promise((resolve, reject) => {
    tx.signAndSend(pair, { nonce }, ({ status, dispatchError, events }) => {
      if (dispatchError) {
        let why = dispatchError.toString();
        if (dispatchError.isModule) {
          const m = api.registry.findMetaError(dispatchError.asModule);
          why = `${m.section}.${m.name}`;
        }
        reject(new Error(why));
      } else if (status.isFinalized) {
        resolve(events);
      }
    }).catch(reject);
  });
}

async function sudo(api, alice, call) {
  if (process.env.CHAIN_DEBUG) process.stderr.write(`sudo ${call.method.section}.${call.method.method}\n`);
  const events = await submit(api, api.tx.sudo.sudo(call), alice);
  for (const { event } of events) {
    if (event.section === 'sudo' && event.method === 'Sudid') {
      const r = event.data[0];
      if (r.isErr) {
        const e = r.asErr;
        const m = e.isModule ? api.registry.findMetaError(e.asModule) : null;
        throw new Error(`sudo: ${m ? `${m.section}.${m.name}` : e.toString()}`);
      }
    }
  }
}

async function main() {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const alice = keyring.addFromUri('//Alice');
  const fromSeed = (hex) => keyring.addFromSeed(hexToU8a(hex));
  if (cmd === 'setup') {
    const [url, specPath] = args;
    const spec = JSON.parse(readFileSync(specPath, 'utf8'));
    const api = await connect(url);
    const au = api.tx.adminUtils;
    await sudo(api, alice, au.sudoSetNetworkRateLimit(0));
    const out = { subnets: [] };
    for (const s of spec.subnets) {
      const owner = fromSeed(s.owner_seed);
      const before = (await api.query.subtensorModule.totalNetworks()).toNumber();
      await submit(api, api.tx.subtensorModule.registerNetwork(owner.address, 1), alice);
      // The new subnet is the highest netuid added.
      let netuid = -1;
      const added = await api.query.subtensorModule.networksAdded.entries();
      for (const [k, v] of added) {
        const n = k.args[0].toNumber();
        if (v.isTrue && n > netuid) netuid = n;
      }
      if (netuid < 0) throw new Error(`no subnet added (${before} before)`);
      await sudo(api, alice, au.sudoSetNetworkRegistrationAllowed(netuid, true));
      await sudo(api, alice, au.sudoSetTargetRegistrationsPerInterval(netuid, 100));
      await sudo(api, alice, au.sudoSetMaxRegistrationsPerBlock(netuid, 100));
      await sudo(api, alice, au.sudoSetCommitRevealWeightsEnabled(netuid, !!s.commit_reveal));
      for (const [call, value] of Object.entries(s.knobs ?? {})) {
        await sudo(api, alice, au[call](netuid, value));
      }
      const uids = {};
      for (const seed of s.hotkeys) {
        const hk = fromSeed(seed);
        await submit(api, api.tx.subtensorModule.burnedRegister(netuid, hk.address), alice);
        uids[hk.address] = (await api.query.subtensorModule.uids(netuid, hk.address)).unwrap().toNumber();
      }
      out.subnets.push({ netuid, owner: owner.address, uids });
    }
    console.log(JSON.stringify(out));
    await api.disconnect();
  } else if (cmd === 'sudo') {
    const [url, pallet, call, argsJson] = args;
    const api = await connect(url);
    await sudo(api, alice, api.tx[pallet][call](...JSON.parse(argsJson)));
    console.log(JSON.stringify({ ok: true }));
    await api.disconnect();
  } else if (cmd === 'read') {
    const [url, pallet, item, keysJson] = args;
    const api = await connect(url);
    const v = await api.query[pallet][item](...JSON.parse(keysJson));
    console.log(JSON.stringify({ value: v.toJSON() }));
    await api.disconnect();
  } else if (cmd === 'set-storage') {
    const [url, json] = args;
    const api = await connect(url);
    await api._rpcCore.provider.send('dev_setStorage', [JSON.parse(json)]);
    console.log(JSON.stringify({ ok: true }));
    await api.disconnect();
  } else if (cmd === 'decode') {
    const [metadataPath, hex, spec, txVersion, genesisHash, blockHash, userPath] = args;
    const registry = new TypeRegistry();
    const metadata = new Metadata(registry, readFileSync(metadataPath, 'utf8').trim());
    const user = userPath ? JSON.parse(readFileSync(userPath, 'utf8')) : undefined;
    registry.setMetadata(metadata, undefined, user, true);
    const xt = registry.createType('Extrinsic', hexToU8a(hex));
    const call = registry.createType('Call', xt.method.toU8a());
    const payload = registry.createType('ExtrinsicPayload', {
      method: xt.method.toHex(),
      era: xt.era,
      nonce: xt.nonce,
      tip: xt.tip,
      mode: xt.inner.signature.mode ?? 0,
      metadataHash: null,
      specVersion: Number(spec),
      transactionVersion: Number(txVersion),
      genesisHash,
      blockHash,
    }, { version: 4 });
    let signed = payload.toU8a({ method: true });
    if (signed.length > 256) signed = blake2AsU8a(signed);
    const verified = signatureVerify(signed, xt.signature.toU8a(), xt.signer.toString()).isValid;
    console.log(JSON.stringify({
      verified,
      signed: xt.isSigned,
      signer: xt.signer.toString(),
      nonce: xt.nonce.toNumber(),
      tip: xt.tip.toString(),
      era: xt.era.toJSON(),
      extensions: (metadata.asLatest.extrinsic.transactionExtensions ?? metadata.asLatest.extrinsic.signedExtensions).map((e) => e.identifier.toString()),
      section: call.section,
      method: call.method,
      args: call.toHuman().args,
      signature: xt.signature.toHex(),
      bytes: u8aToHex(xt.toU8a()) === hex,
    }));
  } else {
    die(`unknown command ${cmd}`);
  }
}

// A harness that stops without answering is a failure, never a silent success.
let answered = false;
process.on('exit', (code) => {
  if (!answered && code === 0) process.exitCode = 3;
});
setTimeout(() => die('no answer within 120 s'), 120000).unref();
main().then(() => { answered = true; process.exit(0); }, (e) => die(e.message ?? String(e)));
//() => process.exit(0), (e) => die(e.message ?? String(e)));
