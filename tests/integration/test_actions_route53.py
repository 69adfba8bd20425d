# SPDX-License-Identifier: MIT
"""The route53 action driver. Route 53 itself cannot be reached from here (no internet),
so this is (1) a check of the independent SigV4 verifier in tests/lib/sigv4.py against the
worked example of the AWS documentation (IAM ListUsers, 2015-08-30: signing key,
canonical-request hash and signature all reproduced), and (2) the driver against a LOCAL
STAND-IN for the Route 53 API on 127.0.0.1 that recomputes the SigV4 signature of every
request it receives with the test credentials (403 SignatureDoesNotMatch on a mismatch),
parses the ChangeResourceRecordSets XML (namespace, element order of the schema; UPSERT,
CREATE and DELETE semantics, the batch atomic as Route 53 documents it: a DELETE must match
the record exactly, a CREATE must not find one), applies it to its own record store and
answers with a ChangeInfo; ListResourceRecordSets answers from the same store. Nothing here
proves that real Route 53 accepts the request; it proves the request is signed correctly by
the published algorithm and carries the intended change batch."""

import http.server
import os
import urllib.parse
from xml.sax.saxutils import escape
import sys
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import sigv4  # noqa: E402
from action_run import run_action  # noqa: E402

AKID, SECRET = "AKIDBATONTEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYBATONKEY"
ZONE_ID, ZONE = "Z1D633PJN98FT9", "example.com."
NS = "{https://route53.amazonaws.com/doc/2013-04-01/}"
RRSET_ORDER = ["Name", "Type", "SetIdentifier", "Weight", "Region", "GeoLocation", "Failover",
               "MultiValueAnswer", "TTL", "ResourceRecords", "AliasTarget", "HealthCheckId"]


def error_xml(code, message, kind="Sender"):
    return (f'<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/'
            f'2013-04-01/"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}'
            f'</Message></Error><RequestId>req-1</RequestId></ErrorResponse>')


class StandIn:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = {}  # (name, type, set identifier or None) -> dict
        self.requests = []
        self.throttle_once = False
        self.changes = 0
        self.after_list = None   # called once after a ListResourceRecordSets (a concurrent writer)

    def change_batch(self, body):
        """Apply the batch; -> (status, xml)."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return 400, error_xml("MalformedInput", f"not XML: {e}")
        if root.tag != NS + "ChangeResourceRecordSetsRequest":
            return 400, error_xml("MalformedInput", f"root element {root.tag}")
        changes = root.findall(f"{NS}ChangeBatch/{NS}Changes/{NS}Change")
        if not changes:
            return 400, error_xml("InvalidChangeBatch", "no changes")
        staged = dict(self.records)
        for ch in changes:
            action = ch.findtext(NS + "Action")
            rrset = ch.find(NS + "ResourceRecordSet")
            if action not in ("CREATE", "DELETE", "UPSERT") or rrset is None:
                return 400, error_xml("InvalidInput", f"bad change {ET.tostring(ch)!r}")
            tags = [c.tag[len(NS):] for c in rrset]
            if tags != sorted(tags, key=RRSET_ORDER.index):
                return 400, error_xml("InvalidInput", f"elements out of schema order: {tags}")
            name, rtype = rrset.findtext(NS + "Name"), rrset.findtext(NS + "Type")
            setid, weight = rrset.findtext(NS + "SetIdentifier"), rrset.findtext(NS + "Weight")
            if not (name == ZONE or name.endswith("." + ZONE)):
                return 400, error_xml("InvalidChangeBatch",
                                      f"[RRSet with DNS name {name} is not permitted in zone "
                                      f"{ZONE}]")
            if (setid is None) != (weight is None):
                return 400, error_xml("InvalidInput", "SetIdentifier and Weight go together")
            values = [v.text for v in rrset.findall(
                f"{NS}ResourceRecords/{NS}ResourceRecord/{NS}Value")]
            if rtype == "TXT" and not all(v.startswith('"') and v.endswith('"') for v in values):
                return 400, error_xml("InvalidChangeBatch", "TXT values must be quoted")
            key = (name, rtype, setid)
            rec = {"ttl": int(rrset.findtext(NS + "TTL")), "values": values,
                   "weight": None if weight is None else int(weight)}
            if action == "UPSERT":
                staged[key] = rec
            elif action == "CREATE":
                if key in staged:
                    return 400, error_xml("InvalidChangeBatch", f"[Tried to create resource record set "
                                          f"[name='{name}', type='{rtype}'] but it already exists]")
                staged[key] = rec
            else:  # DELETE: the record must match exactly
                if staged.get(key) != rec:
                    return 400, error_xml("InvalidChangeBatch", f"[Tried to delete resource record set "
                                          f"[name='{name}', type='{rtype}'] but it was not found]")
                del staged[key]
        self.records = staged
        self.changes += 1
        return 200, ('<?xml version="1.0" encoding="UTF-8"?>\n<ChangeResourceRecordSetsResponse '
                     'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo>'
                     f'<Id>/change/C{self.changes:04d}BATON</Id><Status>PENDING</Status>'
                     '<SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo>'
                     '</ChangeResourceRecordSetsResponse>')

    def list_sets(self, q):
        """ListResourceRecordSets: the record sets from (name, type) on, at most maxitems."""
        start = (q["name"][0], q.get("type", [""])[0])
        keys = sorted(k for k in self.records if (k[0], k[1]) >= start)[:int(q.get("maxitems", ["100"])[0])]
        sets = ""
        for name, rtype, setid in keys:
            rec = self.records[(name, rtype, setid)]
            sets += "<ResourceRecordSet><Name>%s</Name><Type>%s</Type>" % (escape(name), rtype)
            if setid is not None:
                sets += "<SetIdentifier>%s</SetIdentifier><Weight>%d</Weight>" % (escape(setid), rec["weight"])
            sets += "<TTL>%d</TTL><ResourceRecords>%s</ResourceRecords></ResourceRecordSet>" % (
                rec["ttl"], "".join("<ResourceRecord><Value>%s</Value></ResourceRecord>" % escape(v)
                                    for v in rec["values"]))
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<ListResourceRecordSetsResponse '
                'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets>%s'
                '</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>%s</MaxItems>'
                '</ListResourceRecordSetsResponse>' % (sets, q.get("maxitems", ["100"])[0]))

    def handle(self, method, target, headers, body):
        path, _, query = target.partition("?")
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        ok, why = sigv4.verify(method, path, query, headers, body, {AKID: SECRET},
                               "us-east-1", "route53")
        if not ok:
            return 403, error_xml("SignatureDoesNotMatch", why)
        if self.throttle_once:
            self.throttle_once = False
            return 400, error_xml("Throttling", "Rate exceeded")
        if method == "GET" and path == f"/2013-04-01/hostedzone/{ZONE_ID}/rrset":
            answer = self.list_sets(urllib.parse.parse_qs(query))
            if self.after_list is not None:
                hook, self.after_list = self.after_list, None
                hook(self)
            return 200, answer
        if method != "POST" or path != f"/2013-04-01/hostedzone/{ZONE_ID}/rrset/":
            if path.startswith("/2013-04-01/hostedzone/"):
                return 404, error_xml("NoSuchHostedZone", f"No hosted zone found: {path}")
            return 404, error_xml("NotFound", path)
        return self.change_batch(body)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with self.server.standin.lock:
            code, answer = self.server.standin.handle(self.command, self.path,
                                                      list(self.headers.items()), body)
        data = answer.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST


class SigV4VerifierTest(unittest.TestCase):
    """The verifier the stand-in uses, checked against AWS's own worked example."""

    DOC_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    DOC_HEADERS = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                   ("Host", "iam.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
    DOC_SIGNED = ["content-type", "host", "x-amz-date"]

    def test_verifier_reproduces_the_aws_documentation_example(self):
        self.assertEqual(sigv4.signing_key(self.DOC_SECRET, "20150830", "us-east-1",
                                           "iam").hex(),
                         "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        creq = sigv4.canonical_request("GET", "/", "Action=ListUsers&Version=2010-05-08",
                                       self.DOC_HEADERS, self.DOC_SIGNED, b"", "iam")
        self.assertEqual(sigv4.hashlib.sha256(creq.encode()).hexdigest(),
                         "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
        self.assertEqual(sigv4.sign(self.DOC_SECRET, "GET", "/",
                                    "Action=ListUsers&Version=2010-05-08", self.DOC_HEADERS,
                                    self.DOC_SIGNED, b"", "20150830T123600Z", "us-east-1",
                                    "iam"),
                         "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")

    def test_verifier_rejects_a_changed_body_a_wrong_secret_and_an_old_date(self):
        import datetime
        now = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.timezone.utc)
        sig = sigv4.sign(self.DOC_SECRET, "POST", "/x/", "", self.DOC_HEADERS, self.DOC_SIGNED,
                         b"<a/>", "20150830T123600Z", "us-east-1", "iam")
        auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                f"SignedHeaders=content-type;host;x-amz-date, Signature={sig}")
        headers = self.DOC_HEADERS + [("Authorization", auth)]
        secrets = {"AKIDEXAMPLE": self.DOC_SECRET}
        self.assertEqual(sigv4.verify("POST", "/x/", "", headers, b"<a/>", secrets, "us-east-1",
                                      "iam", now=now), (True, "AKIDEXAMPLE"))
        self.assertEqual(sigv4.verify("POST", "/x/", "", headers, b"<b/>", secrets,
                                      "us-east-1", "iam", now=now),
                         (False, "signature mismatch"))
        self.assertEqual(sigv4.verify("POST", "/x/", "", headers, b"<a/>",
                                      {"AKIDEXAMPLE": "other"}, "us-east-1", "iam", now=now),
                         (False, "signature mismatch"))
        late = now + datetime.timedelta(hours=1)
        self.assertFalse(sigv4.verify("POST", "/x/", "", headers, b"<a/>", secrets,
                                      "us-east-1", "iam", now=late)[0])


class Route53AgainstALocalStandInTest(unittest.TestCase):
    """route53 driver against a local stand-in that verifies SigV4 independently and
    checks the XML; real Route 53 cannot be reached from here."""

    @classmethod
    def setUpClass(cls):
        cls.standin = StandIn()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.httpd.standin = cls.standin
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.httpd.server_close)
        cls.addClassCleanup(cls.httpd.shutdown)
        cls.endpoint = f"http://127.0.0.1:{cls.httpd.server_address[1]}"

    def setUp(self):
        with self.standin.lock:   # every test starts from an empty zone
            self.standin.requests.clear()
            self.standin.records.clear()
            self.standin.after_list = None

    def params(self, **extra):
        p = {"endpoint": self.endpoint, "access_key_id": AKID, "secret_access_key": SECRET,
             "hosted_zone_id": ZONE_ID, "name": "app.example.com", "type": "A",
             "set_identifier": "us-east", "weight": "100", "value": "192.0.2.10", "ttl": "30"}
        p.update(extra)
        return p

    def test_stand_in_accepts_the_signed_upsert_of_the_weighted_record_and_the_epoch(self):
        r = run_action("route53", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn("change /change/C", r["output"])
        self.assertIn("PENDING", r["output"])
        rec = self.standin.records[("app.example.com.", "A", "us-east")]
        self.assertEqual(rec, {"ttl": 30, "values": ["192.0.2.10"], "weight": 100})
        self.assertEqual(self.standin.records[("_baton-epoch.app.example.com.", "TXT", None)],
                         {"ttl": 30, "values": ['"epoch=7 region=us-east"'], "weight": None})
        req = self.standin.requests[-1]
        self.assertEqual(req["path"], f"/2013-04-01/hostedzone/{ZONE_ID}/rrset/")
        headers = {n.lower(): v for n, v in req["headers"]}
        self.assertEqual(headers["content-type"], "text/xml")
        self.assertRegex(headers["authorization"],
                         rf"^AWS4-HMAC-SHA256 Credential={AKID}/\d{{8}}/us-east-1/route53/"
                         r"aws4_request, SignedHeaders=[a-z0-9;-]*content-type;host;"
                         r"[a-z0-9;-]*x-amz-date")

    EPOCH_KEY = ("_baton-epoch.app.example.com.", "TXT", None)

    def set_epoch_record(self, value, ttl=30):
        with self.standin.lock:
            self.standin.records[self.EPOCH_KEY] = {"ttl": ttl, "values": [value], "weight": None}

    def test_the_epoch_record_is_read_then_swapped_in_one_batch(self):
        self.set_epoch_record('"epoch=3 region=eu-west"', ttl=45)
        r = run_action("route53", self.params(value="192.0.2.30"), epoch=4)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn('(was "epoch=3 region=eu-west")', r["output"])
        self.assertEqual([q["method"] for q in self.standin.requests], ["GET", "POST"])
        batch = ET.fromstring(self.standin.requests[-1]["body"])
        self.assertEqual([c.findtext(NS + "Action") for c in batch.iter(NS + "Change")],
                         ["UPSERT", "DELETE", "CREATE"])
        self.assertEqual(self.standin.records[self.EPOCH_KEY]["values"], ['"epoch=4 region=us-east"'])

    def test_a_newer_epoch_in_the_zone_refuses_a_stale_write_and_sends_no_change(self):
        self.set_epoch_record('"epoch=12 region=ap-south"')
        before = dict(self.standin.records)
        r = run_action("route53", self.params(value="192.0.2.66"), epoch=9)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("stale write refused: _baton-epoch.app.example.com. holds epoch 12, this step's epoch "
                      "is 9", r["error"])
        self.assertEqual([q["method"] for q in self.standin.requests], ["GET"])
        self.assertEqual(self.standin.records, before)

    def test_a_change_of_the_epoch_record_between_read_and_write_is_a_retryable_conflict(self):
        self.set_epoch_record('"epoch=5 region=eu-west"')

        def concurrent_writer(standin):
            standin.records[self.EPOCH_KEY] = {"ttl": 30, "values": ['"epoch=6 region=ap-south"'],
                                               "weight": None}
        self.standin.after_list = concurrent_writer
        r = run_action("route53", self.params(value="192.0.2.70"), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertTrue(r["retryable"], r)
        self.assertIn("the epoch record changed meanwhile; read again", r["error"])
        self.assertEqual(self.standin.records[self.EPOCH_KEY]["values"], ['"epoch=6 region=ap-south"'])
        self.assertNotEqual(self.standin.records.get(("app.example.com.", "A", "us-east"), {}).get("values"),
                            ["192.0.2.70"], "the batch is atomic: the weighted record did not change either")
        r = run_action("route53", self.params(value="192.0.2.70"), epoch=7)   # the retry reads again
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.standin.records[self.EPOCH_KEY]["values"], ['"epoch=7 region=us-east"'])

    def test_a_foreign_txt_at_the_epoch_name_is_left_alone(self):
        self.set_epoch_record('"v=spf1 -all"')
        r = run_action("route53", self.params(), epoch=20)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn('holds "v=spf1 -all", not a baton epoch record', r["error"])
        self.assertEqual(self.standin.records[self.EPOCH_KEY]["values"], ['"v=spf1 -all"'])
        with self.standin.lock:
            del self.standin.records[self.EPOCH_KEY]

    def test_stand_in_rejects_a_wrong_secret_with_403_and_the_driver_does_not_retry(self):
        before = dict(self.standin.records)
        r = run_action("route53", self.params(secret_access_key="not-the-secret",
                                              value="192.0.2.99"), epoch=8)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("HTTP 403", r["error"])
        self.assertIn("SignatureDoesNotMatch", r["error"])
        self.assertEqual(self.standin.records, before)

    def test_stand_in_takes_credentials_file_with_a_signed_session_token(self):
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("[other]\naws_access_key_id = NOPE\n\n[default]\n"
                    f"aws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\n"
                    "aws_session_token = FQoGZXIvYXdzEBaTOKEN\n")
            f.flush()
            p = self.params(set_identifier="us-west", weight="0", value="192.0.2.20")
            for k in ("access_key_id", "secret_access_key"):
                del p[k]
            p["credentials_file"] = f.name
            r = run_action("route53", p, epoch=7, to="us-east")
        self.assertEqual(r["status_name"], "ok", r)
        headers = {n.lower(): v for n, v in self.standin.requests[-1]["headers"]}
        self.assertEqual(headers["x-amz-security-token"], "FQoGZXIvYXdzEBaTOKEN")
        self.assertIn("x-amz-security-token", headers["authorization"])
        self.assertEqual(self.standin.records[("app.example.com.", "A", "us-west")]["weight"], 0)

    def test_stand_in_throttling_is_retryable(self):
        self.standin.throttle_once = True
        r = run_action("route53", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertTrue(r["retryable"])
        self.assertIn("Throttling", r["error"])
        self.assertEqual(run_action("route53", self.params(), epoch=7)["status_name"], "ok")

    def test_stand_in_invalid_change_batch_is_not_retryable_and_quoted(self):
        r = run_action("route53", self.params(name="app.other.org"), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("InvalidChangeBatch", r["error"])
        self.assertIn("not permitted in zone", r["error"])

    def test_stand_in_unknown_zone_is_404(self):
        r = run_action("route53", self.params(hosted_zone_id="ZNOSUCHZONE"), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertIn("route53 zone ZNOSUCHZONE", r["error"])
        self.assertIn("NoSuchHostedZone", r["error"])

    def test_stand_in_gets_every_value_of_an_aaaa_set(self):
        r = run_action("route53", self.params(name="v6.example.com", type="AAAA",
                                              value="2001:db8::1, 2001:db8::2"), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.standin.records[("v6.example.com.", "AAAA", "us-east")]["values"],
                         ["2001:db8::1", "2001:db8::2"])

    def test_drill_sends_nothing_to_the_stand_in(self):
        r = run_action("route53", self.params(value="192.0.2.77"), epoch=9, drill=True)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn("drill: would UPSERT app.example.com. A weight 100 (set us-east) -> "
                      "192.0.2.77", r["output"])
        self.assertEqual(self.standin.requests, [])

    def test_unreachable_endpoint_is_retryable(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        try:
            r = run_action("route53", self.params(
                endpoint=f"http://127.0.0.1:{s.getsockname()[1]}"), epoch=7)
        finally:
            s.close()
        self.assertEqual(r["status_name"], "ECONNREFUSED", r)
        self.assertTrue(r["retryable"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
