# SPDX-License-Identifier: MIT
"""An independent AWS Signature Version 4 verifier (header-based signing), written from
the published algorithm with the standard library only (hmac, hashlib), for checking what
libcurl's CURLOPT_AWS_SIGV4 produces. It recomputes the signature of a received request
from its method, raw path, query, headers and body, and says why it rejects one.

Algorithm (AWS General Reference, "Signature Version 4 signing process"):
  canonical request = method \\n canonical URI \\n canonical query \\n
                      canonical headers (lowercase name:trimmed value\\n, sorted) \\n
                      signed headers (names joined by ';') \\n hex(sha256(payload))
  string to sign    = "AWS4-HMAC-SHA256" \\n X-Amz-Date \\n
                      date/region/service/aws4_request \\n hex(sha256(canonical request))
  signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
                           "aws4_request")
  signature         = hex(HMAC(signing key, string to sign))
For services other than S3 each path segment is URI-encoded once more.
"""

import datetime
import hashlib
import hmac
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),"
                      r"\s*Signature=([0-9a-f]{64})$")


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def _uri_encode(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def canonical_uri(raw_path, service):
    if service == "s3":
        return raw_path or "/"
    return "/".join(_uri_encode(seg) for seg in (raw_path or "/").split("/"))


def canonical_query(query):
    pairs = []
    for part in query.split("&") if query else []:
        k, _, v = part.partition("=")
        k, v = urllib.parse.unquote(k), urllib.parse.unquote(v)
        pairs.append((_uri_encode(k), _uri_encode(v)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _trim(v):
    return " ".join(v.strip().split())


def canonical_request(method, raw_path, query, headers, signed, body, service):
    """@headers: list of (name, value) as received; @signed: lowercase names, sorted."""
    lines = []
    for name in signed:
        values = [_trim(v) for n, v in headers if n.lower() == name]
        lines.append(f"{name}:{','.join(values)}\n")
    return "\n".join([method, canonical_uri(raw_path, service), canonical_query(query),
                      "".join(lines), ";".join(signed), hashlib.sha256(body).hexdigest()])


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope,
                      hashlib.sha256(creq.encode()).hexdigest()])


def sign(secret, method, raw_path, query, headers, signed, body, amz_date, region, service):
    """The hex signature of a request (used by the self-test and by verify())."""
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    creq = canonical_request(method, raw_path, query, headers, signed, body, service)
    sts = string_to_sign(amz_date, scope, creq)
    return hmac.new(signing_key(secret, date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest()


def verify(method, raw_path, query, headers, body, secrets, region, service, now=None,
           max_skew_s=300):
    """-> (True, access key id) or (False, reason). @secrets: {access key id: secret}."""
    auth = [v for n, v in headers if n.lower() == "authorization"]
    if len(auth) != 1:
        return False, "no (or several) Authorization headers"
    m = _AUTH_RE.match(auth[0].strip())
    if not m:
        return False, f"Authorization is not AWS4-HMAC-SHA256: {auth[0]!r}"
    credential, signed_s, signature = m.groups()
    parts = credential.split("/")
    if len(parts) != 5:
        return False, f"bad credential scope {credential!r}"
    akid, date, cred_region, cred_service, term = parts
    if akid not in secrets:
        return False, f"unknown access key id {akid!r}"
    if (cred_region, cred_service, term) != (region, service, "aws4_request"):
        return False, f"scope {credential!r} is not for {region}/{service}"
    signed = signed_s.split(";")
    if signed != sorted(signed) or any(s != s.lower() for s in signed):
        return False, f"SignedHeaders not sorted lowercase: {signed_s}"
    for required in ("host", "x-amz-date"):
        if required not in signed:
            return False, f"{required} is not signed"
    names = {n.lower() for n, _ in headers}
    missing = [s for s in signed if s not in names]
    if missing:
        return False, f"signed headers not sent: {missing}"
    amz = [v for n, v in headers if n.lower() == "x-amz-date"]
    amz_date = amz[0].strip() if len(amz) == 1 else ""
    if not re.match(r"^\d{8}T\d{6}Z$", amz_date) or amz_date[:8] != date:
        return False, f"X-Amz-Date {amz_date!r} does not match the scope date {date}"
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs((now - when).total_seconds()) > max_skew_s:
        return False, f"X-Amz-Date {amz_date} is more than {max_skew_s}s from now"
    want = sign(secrets[akid], method, raw_path, query, headers, signed, body, amz_date,
                region, service)
    if not hmac.compare_digest(want, signature):
        return False, "signature mismatch"
    return True, akid
