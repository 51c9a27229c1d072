#!/usr/bin/env python3
"""Interop peer for veil's tests: bittensor 11.3's `bittensor.http_auth` ("btauth/1") on MIID's
bittensor-11 wire shape (branch hotfix_bittensor_update_v11, MIID/compat/transport.py at
53ad88d85, as ../../../../shared/reference/miid-head.md describes it).

    btauth_peer.py serve --seed HEX32 --port P --store-dir DIR --allow SS58 [--allow SS58]...
                         [--record FILE]
    btauth_peer.py query --seed HEX32 --url URL --receiver SS58 --body FILE
                         [--replay URL]... [--nonce-ns N] [--header NAME:VALUE]... [--get]

serve: a MIID miner on 127.0.0.1:P (http.server, one thread per connection) until SIGTERM or
SIGINT. Once it accepts connections it prints exactly one line on stdout:
    listening 127.0.0.1:P hotkey SS58
  GET  /IdentitySynapse  200 {"message": "IdentitySynapse endpoint is alive"} (liveness probe)
  POST /IdentitySynapse  the raw body is authenticated first with
       http_auth.verify(headers, body, method="POST", path, self_hotkey_ss58=this hotkey,
       nonce_store=one InMemoryNonceStore): any AuthError -> 401 {"detail": "<kind>: <why>"};
       a sender not given with --allow -> 403; a body that is not a JSON object -> 400; then
       the body is the synapse JSON: its image_request is answered by ../miid/miid_miner.py
       (sealed with bittensor_core.encrypt_at_round to target_drand_round, objects under DIR)
       and the synapse JSON comes back with s3_submissions filled in (200).
  any other path -> 404. --record FILE appends one JSON line per POST:
       {"hotkey", "nonce", "outcome"} with outcome "verified", "blacklisted" or "refused: <why>".

query: signs the bytes of FILE with http_auth.sign(keypair, method="POST", path=URL's path,
body, receiver_ss58=SS58, nonce_ns=N or now) and POSTs them to URL with those headers and
Content-Type: application/json (plus each --header, e.g. a bittensor-10 header to test that
mixing the two families is refused); then sends the very same bytes and headers to each
--replay URL. --get also sends GET to URL first. stdout: one JSON line
    {"sender": SS58, "liveness": {...} | null,
     "answers": [{"url", "status", "body": JSON or text, "signatures_valid": [bool...]}, ...]}
where signatures_valid[i] is bittensor_core.verify(b"challenge:{cid}:hash:{image_hash}", sig,
SS58 of the receiver) for answered submission i (cid from the sent body). An HTTP error status is
a result, not a failure; exit 1 with one line on stderr when the request could not be sent.
"""

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bittensor_core
from bittensor import http_auth

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "miid"))
from miid_miner import MiidMiner  # noqa: E402

SYNAPSE = "IdentitySynapse"
MAX_BODY = 64 * 1024 * 1024


def fail(msg: str) -> None:
    sys.stderr.write(f"btauth_peer.py: {msg}\n")
    sys.exit(1)


def keypair(seed_hex: str):
    raw = seed_hex[2:] if seed_hex.startswith(("0x", "0X")) else seed_hex
    try:
        seed = bytes.fromhex(raw)
    except ValueError:
        fail(f"--seed is not hex: {seed_hex!r}")
    if len(seed) != 32:
        fail(f"--seed is {len(seed)} bytes, not 32")
    return bittensor_core.Keypair.create_from_seed(seed)


# --- serve --------------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port, kp, miner, allow, record):
        super().__init__(("127.0.0.1", port), Handler)
        self.kp = kp
        self.miner = miner
        self.allow = set(allow)
        self.record_path = record
        self.record_lock = threading.Lock()
        self.nonces = http_auth.InMemoryNonceStore()

    def record(self, hotkey, nonce, outcome: str) -> None:
        if not self.record_path:
            return
        with self.record_lock, open(self.record_path, "a") as f:
            f.write(json.dumps({"hotkey": hotkey, "nonce": nonce, "outcome": outcome}) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # to stderr, as http.server does, with a prefix
        sys.stderr.write("btauth_peer.py: " + (fmt % args) + "\n")

    def reply(self, status: int, document) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != f"/{SYNAPSE}":
            return self.reply(404, {"detail": "Not Found"})
        self.reply(200, {"message": f"{SYNAPSE} endpoint is alive"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, {"detail": "body too large"})
        body = self.rfile.read(length)
        if urllib.parse.urlsplit(self.path).path != f"/{SYNAPSE}":
            return self.reply(404, {"detail": "Not Found"})
        srv = self.server
        headers = {k: v for k, v in self.headers.items()}
        try:
            caller = http_auth.verify(
                headers,
                body,
                method="POST",
                path=self.path,
                self_hotkey_ss58=srv.kp.ss58_address,
                nonce_store=srv.nonces,
            )
        except http_auth.AuthError as e:
            srv.record(headers.get(http_auth.HEADER_HOTKEY), headers.get(http_auth.HEADER_NONCE),
                       f"refused: {type(e).__name__}: {e}")
            return self.reply(401, {"detail": f"{type(e).__name__}: {e}"})
        hotkey, nonce = caller.hotkey_ss58, caller.nonce_ns
        if hotkey not in srv.allow:
            srv.record(hotkey, nonce, "blacklisted")
            return self.reply(403, {"detail": "Unrecognized hotkey"})
        try:
            synapse = json.loads(body)
            if not isinstance(synapse, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            srv.record(hotkey, nonce, f"refused: bad body: {e}")
            return self.reply(400, {"detail": f"malformed body: {e}"})
        srv.record(hotkey, nonce, "verified")
        req = synapse.get("image_request")
        synapse["s3_submissions"] = srv.miner.answer(req) if req else []
        self.reply(200, synapse)


def serve(args) -> None:
    kp = keypair(args.seed)
    os.makedirs(args.store_dir, exist_ok=True)
    miner = MiidMiner(
        kp.ss58_address,
        sign=kp.sign,
        seal_at_round=bittensor_core.encrypt_at_round,
        seal_n_blocks=bittensor_core.encrypt,
        store_dir=args.store_dir,
    )
    try:
        server = Server(args.port, kp, miner, args.allow, args.record)
    except OSError as e:
        fail(f"cannot listen on 127.0.0.1:{args.port}: {e}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sys.stdout.write(f"listening 127.0.0.1:{args.port} hotkey {kp.ss58_address}\n")
    sys.stdout.flush()
    stop.wait()
    server.shutdown()


# --- query --------------------------------------------------------------------------------------


def send(url: str, method: str, body, headers: dict):
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, data = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    except OSError as e:
        fail(f"{method} {url}: {e}")
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return status, parsed


def signatures_valid(answer, cid: str, receiver: str) -> list:
    if not isinstance(answer, dict):
        return []
    out = []
    for s in answer.get("s3_submissions") or []:
        try:
            message = f"challenge:{cid}:hash:{s['image_hash']}".encode()
            out.append(bool(bittensor_core.verify(message, bytes.fromhex(s["signature"]), receiver)))
        except Exception:
            out.append(False)
    return out


def query(args) -> None:
    kp = keypair(args.seed)
    try:
        with open(args.body, "rb") as f:
            body = f.read()
    except OSError as e:
        fail(f"cannot read --body: {e}")
    try:
        cid = (json.loads(body).get("image_request") or {}).get("challenge_id") or ""
    except (ValueError, AttributeError):
        cid = ""
    parts = urllib.parse.urlsplit(args.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = http_auth.sign(
        kp, method="POST", path=path, body=body, receiver_ss58=args.receiver, nonce_ns=args.nonce_ns
    )
    headers["Content-Type"] = "application/json"
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            fail(f"--header is not NAME:VALUE: {h!r}")
        headers[name.strip()] = value.strip()
    liveness = None
    if args.get:
        status, answer = send(args.url, "GET", None, {})
        liveness = {"status": status, "body": answer}
    answers = []
    for url in [args.url] + args.replay:
        status, answer = send(url, "POST", body, headers)
        answers.append(
            {"url": url, "status": status, "body": answer,
             "signatures_valid": signatures_valid(answer, cid, args.receiver)}
        )
    sys.stdout.write(json.dumps({"sender": kp.ss58_address, "liveness": liveness, "answers": answers}) + "\n")
    sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser(prog="btauth_peer.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--seed", required=True)
    s.add_argument("--port", required=True, type=int)
    s.add_argument("--store-dir", required=True)
    s.add_argument("--allow", action="append", default=[])
    s.add_argument("--record")
    q = sub.add_parser("query")
    q.add_argument("--seed", required=True)
    q.add_argument("--url", required=True)
    q.add_argument("--receiver", required=True)
    q.add_argument("--body", required=True)
    q.add_argument("--replay", action="append", default=[])
    q.add_argument("--nonce-ns", type=int)
    q.add_argument("--header", action="append", default=[])
    q.add_argument("--get", action="store_true")
    args = p.parse_args()
    serve(args) if args.command == "serve" else query(args)


if __name__ == "__main__":
    main()
