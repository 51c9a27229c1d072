"""Prepares an already running moto_server (moto[server] 5.2.5) for veil's store tests.

Usage (with the python of the moto virtualenv, .peers/moto/bin/python; boto3 comes with moto):

    moto_setup.py --endpoint http://127.0.0.1:PORT --bucket NAME [--auth]

Without --auth: creates the bucket, gives it a bucket policy allowing s3:* to Principal "*",
verifies that unsigned requests (PUT, overwrite, GET, list, DELETE) work, and prints
{"bucket": NAME}: a "public bucket". Signed requests work with any credentials.

With --auth: creates the bucket, the IAM users `veil-reader` (inline policy: only s3:GetObject
and s3:ListBucket on the bucket and its objects) and `veil-writer` (s3:* on the bucket and its
objects) and an access key for each (moto generates them), then turns enforcement on and
verifies it, and prints
    {"bucket": NAME, "reader": {"access_key_id": .., "secret_access_key": ..}, "writer": {..}}

What works with moto 5.2.5 (read from moto/core/authorization.py, moto/moto_api/_internal/
responses.py, and observed):
- moto counts authenticated-capable calls in a class-level counter and enforces SigV4 + IAM
  only once that counter reaches settings.INITIAL_NO_AUTH_ACTION_COUNT (read once at import
  from the env variable of that name; default infinity, i.e. never).
- The server is started with INITIAL_NO_AUTH_ACTION_COUNT=1000 (by tests/src/moto.rs), so the
  set-up calls below (bucket, users, policies, keys: ~7 calls) run unauthenticated with any
  credentials.
- POST {endpoint}/moto-api/reset-auth with the RAW body `0` (not form-encoded: moto reads
  request.data, which Flask leaves empty for a form body, and float('') fails with a 500) sets
  the threshold to 0 and the counter to 0: enforcement is on from the next request. (The same
  POST also works on a server started without the env variable; the env variable is kept so the
  auth machinery is explicitly configured from the start.)
- Once enforcing: a wrong secret gives SignatureDoesNotMatch (403), an unknown access key
  InvalidAccessKeyId (403), the reader's put_object / create_multipart_upload / delete_object
  AccessDenied (403); the identity-based policies are evaluated against the bucket created
  before enforcement (same default account 123456789012). An unsigned request is rejected, but
  as a 500 (moto raises KeyError: 'HTTP_AUTHORIZATION'), not as a 403 AccessDenied.
- The checks below run in that order and leave the bucket empty.

Without enforcement moto still applies S3's anonymous-access rules to UNSIGNED requests (no
Authorization header, no presigned query): an unsigned GET, overwrite or DELETE of an existing
object is refused with a bare 403 (empty body) unless the object's ACL is public-read or a bucket
policy allows the action (moto evaluates bucket policies ignoring the Principal); an unsigned PUT
of a new key is allowed. Hence the public-bucket policy above. Also: an unsigned PUT sent with
`Content-Type: application/x-www-form-urlencoded` (curl's default for --data) is stored EMPTY,
because Flask consumes the body as a form; send application/octet-stream or no Content-Type.

Exits non-zero with a message on stderr if any step or check fails; stdout carries only the
JSON line.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

REGION = "us-east-1"
# Any credentials do while moto is not enforcing (the set-up phase).
SETUP_KEYS = ("veil-setup", "veil-setup-secret")


def fail(msg):
    print(f"moto_setup: {msg}", file=sys.stderr)
    sys.exit(1)


def client(service, endpoint, key_id, secret):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            # moto loads a service's backend on its first request: slow on a busy machine.
            read_timeout=60,
        ),
    )


def error_code(call):
    """Runs `call`; returns None on success, else the S3/IAM error code."""
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response.get("Error", {}).get("Code")
    return None


def expect_error(what, call, code):
    got = error_code(call)
    if got != code:
        fail(f"auth not enforced: {what}: expected {code}, got {got or 'success'}")


def expect_ok(what, call):
    try:
        return call()
    except botocore.exceptions.ClientError as e:
        fail(f"{what} failed: {e}")


def policy(actions, bucket):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": actions,
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


def make_user(iam, name, actions, bucket):
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name, PolicyName=f"{name}-policy", PolicyDocument=policy(actions, bucket)
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def enforce(endpoint):
    req = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read().decode()
        if resp.status != 200 or json.loads(body).get("status") != "ok":
            fail(f"reset-auth answered {resp.status}: {body}")


def verify(endpoint, bucket, reader, writer):
    r = client("s3", endpoint, reader["access_key_id"], reader["secret_access_key"])
    w = client("s3", endpoint, writer["access_key_id"], writer["secret_access_key"])
    key = "veil-moto-setup-check"
    expect_ok("writer put_object", lambda: w.put_object(Bucket=bucket, Key=key, Body=b"veil"))
    got = expect_ok("reader get_object", lambda: r.get_object(Bucket=bucket, Key=key))
    if got["Body"].read() != b"veil":
        fail("reader get_object returned other bytes than the writer put")
    expect_ok("reader list_objects_v2", lambda: r.list_objects_v2(Bucket=bucket))
    expect_error(
        "reader put_object",
        lambda: r.put_object(Bucket=bucket, Key=key, Body=b"x"),
        "AccessDenied",
    )
    expect_error(
        "reader create_multipart_upload",
        lambda: r.create_multipart_upload(Bucket=bucket, Key=key),
        "AccessDenied",
    )
    expect_error(
        "reader delete_object", lambda: r.delete_object(Bucket=bucket, Key=key), "AccessDenied"
    )
    wrong = client("s3", endpoint, writer["access_key_id"], writer["secret_access_key"] + "x")
    expect_error(
        "writer key with a wrong secret",
        lambda: wrong.get_object(Bucket=bucket, Key=key),
        "SignatureDoesNotMatch",
    )
    unknown = client("s3", endpoint, "AKIAVEILUNKNOWNKEY00", "unknown-secret")
    expect_error(
        "unknown access key",
        lambda: unknown.get_object(Bucket=bucket, Key=key),
        "InvalidAccessKeyId",
    )
    expect_ok("writer delete_object", lambda: w.delete_object(Bucket=bucket, Key=key))
    listed = expect_ok("reader list_objects_v2", lambda: r.list_objects_v2(Bucket=bucket))
    if listed.get("KeyCount", 0) != 0:
        fail(f"bucket not empty after the writer's delete: {listed.get('Contents')}")


def unsigned(method, url, body=None):
    """An anonymous request; returns (status, body)."""
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def make_public(s3, endpoint, bucket):
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    }
                ],
            }
        ),
    )
    url = f"{endpoint}/{bucket}/veil-moto-setup-check"
    for what, got, want in [
        ("unsigned PUT", lambda: unsigned("PUT", url, b"veil"), 200),
        ("unsigned overwrite", lambda: unsigned("PUT", url, b"veil2"), 200),
        ("unsigned GET", lambda: unsigned("GET", url), 200),
        ("unsigned list", lambda: unsigned("GET", f"{endpoint}/{bucket}?list-type=2"), 200),
        ("unsigned DELETE", lambda: unsigned("DELETE", url), 204),
        ("unsigned GET after DELETE", lambda: unsigned("GET", url), 404),
    ]:
        status, body = got()
        if status != want:
            fail(f"public bucket: {what}: expected {want}, got {status}: {body[:300]!r}")
        if what == "unsigned GET" and body != b"veil2":
            fail(f"public bucket: unsigned GET returned {body[:300]!r}, not the bytes put")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--auth", action="store_true", help="users, keys, and enforcement on")
    args = ap.parse_args()
    endpoint = args.endpoint.rstrip("/")

    try:
        s3 = client("s3", endpoint, *SETUP_KEYS)
        s3.create_bucket(Bucket=args.bucket)
        out = {"bucket": args.bucket}
        if args.auth:
            iam = client("iam", endpoint, *SETUP_KEYS)
            reader = make_user(iam, "veil-reader", ["s3:GetObject", "s3:ListBucket"], args.bucket)
            writer = make_user(iam, "veil-writer", ["s3:*"], args.bucket)
            if reader["access_key_id"] == writer["access_key_id"]:
                fail("moto gave the reader and the writer the same access key")
            enforce(endpoint)
            verify(endpoint, args.bucket, reader, writer)
            out["reader"] = reader
            out["writer"] = writer
        else:
            make_public(s3, endpoint, args.bucket)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, OSError) as e:
        fail(f"against {endpoint}: {type(e).__name__}: {e}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
