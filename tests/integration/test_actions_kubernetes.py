# SPDX-License-Identifier: MIT
"""The kubernetes action driver against a local stand-in that checks the exact API
requests; no API server can run here (none is packaged for Debian 12, and a kind/k3s
cluster needs images from the network).

The stand-in (HTTPS on 127.0.0.1 with a throw-away self-signed certificate, so TLS
verification against ca_file is exercised) answers like the apps/v1 API: GET of a
Deployment/StatefulSet, merge-patch of the object with metadata.resourceVersion as a
precondition (409 Conflict with the API server's Status body when it does not match),
PUT of the autoscaling/v1 Scale subresource with the same precondition, 401 for a wrong
bearer token, 404 for an unknown object, 415 for a wrong content type. Every request is
recorded, and the tests assert the exact sequence: verbs, paths, content types, token,
resourceVersion and bodies."""

import copy
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from action_run import run_action  # noqa: E402

TOKEN = "baton-test-token.abc123"
PATH_RE = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/(deployments|statefulsets)/"
                     r"([a-z0-9.-]+)(/scale)?$")


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class StandIn:
    """The API server's state and request log; shared with the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.objects = {}
        self.log = []
        self.next_rv = 100
        self.modify_before_next_write = False  # another writer slips in once

    def bump(self, obj):
        self.next_rv += 1
        obj["metadata"]["resourceVersion"] = str(self.next_rv)

    def add(self, plural, ns, name, replicas, annotations=None):
        kind = "Deployment" if plural == "deployments" else "StatefulSet"
        obj = {"apiVersion": "apps/v1", "kind": kind,
               "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}",
                            "generation": 1, "annotations": dict(annotations or {})},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}},
               "status": {"replicas": replicas}}
        self.bump(obj)
        with self.lock:
            self.objects[(plural, ns, name)] = obj
            self.log.clear()
        return obj

    def scale_of(self, obj):
        m = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": m["name"], "namespace": m["namespace"],
                             "resourceVersion": m["resourceVersion"]},
                "spec": {"replicas": obj["spec"]["replicas"]},
                "status": {"replicas": obj["status"]["replicas"]}}

    def handle(self, method, path, headers, body):
        """-> (status, json body)"""
        self.log.append({"method": method, "path": path,
                         "content_type": headers.get("Content-Type"),
                         "accept": headers.get("Accept"),
                         "auth": headers.get("Authorization"),
                         "body": json.loads(body) if body else None})
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        m = PATH_RE.match(path)
        if not m:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        ns, plural, name, sub = m.groups()
        obj = self.objects.get((plural, ns, name))
        if obj is None:
            return 404, status(404, "NotFound", f'{plural}.apps "{name}" not found')
        conflict = status(409, "Conflict",
                          f'Operation cannot be fulfilled on {plural}.apps "{name}": the object '
                          "has been modified; please apply your changes to the latest version "
                          "and try again")
        if method in ("PATCH", "PUT") and self.modify_before_next_write:
            self.modify_before_next_write = False
            self.bump(obj)  # someone else's write since the driver's GET
        if method == "GET":
            return 200, self.scale_of(obj) if sub else obj
        if method == "PATCH" and not sub:
            if headers.get("Content-Type") != "application/merge-patch+json":
                return 415, status(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - "
                                   f"accepted media types include: application/merge-patch+json")
            patch = json.loads(body)
            want = patch.get("metadata", {}).get("resourceVersion")
            if want is not None and want != obj["metadata"]["resourceVersion"]:
                return 409, conflict
            new = merge_patch(obj, patch)
            self.objects[(plural, ns, name)] = new
            self.bump(new)
            return 200, new
        if method == "PUT" and sub:
            if headers.get("Content-Type") != "application/json":
                return 415, status(415, "UnsupportedMediaType", "unknown format")
            s = json.loads(body)
            if (s.get("kind") != "Scale" or s.get("apiVersion") != "autoscaling/v1"
                    or s.get("metadata", {}).get("name") != name
                    or s.get("metadata", {}).get("namespace") != ns):
                return 400, status(400, "BadRequest", "not a Scale for this object")
            if s["metadata"].get("resourceVersion") != obj["metadata"]["resourceVersion"]:
                return 409, conflict
            obj["spec"]["replicas"] = s["spec"]["replicas"]
            obj["status"]["replicas"] = s["spec"]["replicas"]
            self.bump(obj)
            return 200, self.scale_of(obj)
        return 405, status(405, "MethodNotAllowed", f"{method} is not supported")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        api = self.server.standin
        with api.lock:
            code, answer = api.handle(self.command, self.path, self.headers, body)
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _serve


class KubernetesLocalStandInTest(unittest.TestCase):
    """kubernetes driver against a local stand-in that checks the exact API requests;
    no API server can run here."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="baton-k8s-")
        cls.addClassCleanup(cls.tmp.cleanup)
        d = cls.tmp.name
        cls.cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                        cls.cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        cls.token_file = os.path.join(d, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.standin = StandIn()
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.httpd.standin = cls.standin
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cls.cert, key)
        cls.httpd.socket = ctx.wrap_socket(cls.httpd.socket, server_side=True)
        t = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        t.start()
        cls.addClassCleanup(cls.httpd.server_close)
        cls.addClassCleanup(cls.httpd.shutdown)
        cls.api = f"https://127.0.0.1:{cls.httpd.server_address[1]}"

    def params(self, name="web", replicas=3, kind="deployment", **extra):
        p = {"api": self.api, "token_file": self.token_file, "ca_file": self.cert,
             "namespace": "prod", "kind": kind, "name": name, "replicas": str(replicas)}
        p.update(extra)
        return p

    def requests(self):
        return [(r["method"], r["path"]) for r in self.standin.log]

    def test_scale_stores_the_epoch_then_puts_scale_with_the_new_resource_version(self):
        self.standin.add("deployments", "prod", "web", 0)  # resourceVersion "101"
        rv = self.standin.objects[("deployments", "prod", "web")]["metadata"]["resourceVersion"]
        r = run_action("kubernetes", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        path = "/apis/apps/v1/namespaces/prod/deployments/web"
        self.assertEqual(self.requests(), [("GET", path), ("PATCH", path),
                                           ("PUT", path + "/scale")])
        get, patch, put = self.standin.log
        for req in self.standin.log:
            self.assertEqual(req["auth"], f"Bearer {TOKEN}")
            self.assertEqual(req["accept"], "application/json")
        self.assertIsNone(get["body"])
        self.assertEqual(patch["content_type"], "application/merge-patch+json")
        self.assertEqual(patch["body"], {"metadata": {
            "resourceVersion": rv,
            "annotations": {"baton.io/epoch": "7", "baton.io/region": "us-east"}}})
        self.assertEqual(put["content_type"], "application/json")
        self.assertEqual(put["body"], {
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "prod",
                         "resourceVersion": str(int(rv) + 1)},  # what the PATCH returned
            "spec": {"replicas": 3}})
        obj = self.standin.objects[("deployments", "prod", "web")]
        self.assertEqual(obj["spec"]["replicas"], 3)
        self.assertEqual(obj["metadata"]["annotations"]["baton.io/epoch"], "7")
        self.assertIn("scaled to 3 replicas (was 0)", r["output"])

    def test_statefulset_uses_the_statefulsets_path(self):
        self.standin.add("statefulsets", "prod", "db", 1)
        r = run_action("kubernetes", self.params(name="db", replicas=2, kind="statefulset"),
                       epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        path = "/apis/apps/v1/namespaces/prod/statefulsets/db"
        self.assertEqual(self.requests(), [("GET", path), ("PATCH", path),
                                           ("PUT", path + "/scale")])
        self.assertEqual(self.standin.objects[("statefulsets", "prod", "db")]["spec"]["replicas"],
                         2)

    def test_higher_epoch_in_the_annotation_is_refused_without_a_write(self):
        self.standin.add("deployments", "prod", "web", 0, {"baton.io/epoch": "9"})
        r = run_action("kubernetes", self.params(), epoch=8)
        self.assertEqual(r["status_name"], "estale", r)
        self.assertIn("annotation baton.io/epoch is 9 > 8", r["error"])
        self.assertEqual([m for m, _ in self.requests()], ["GET"])
        self.assertEqual(self.standin.objects[("deployments", "prod", "web")]["spec"]["replicas"],
                         0)

    def test_conflict_is_retryable_and_the_next_attempt_succeeds(self):
        self.standin.add("deployments", "prod", "web", 0)
        self.standin.modify_before_next_write = True
        r = run_action("kubernetes", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertTrue(r["retryable"])
        self.assertIn("HTTP 409 Conflict", r["error"])
        self.assertIn("the object has been modified", r["error"])
        self.assertEqual([m for m, _ in self.requests()], ["GET", "PATCH"])
        r = run_action("kubernetes", self.params(), epoch=7, attempt=2)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.standin.objects[("deployments", "prod", "web")]["spec"]["replicas"],
                         3)

    def test_conflict_on_scale_is_retryable(self):
        self.standin.add("deployments", "prod", "web", 0, {"baton.io/epoch": "7"})
        self.standin.modify_before_next_write = True
        r = run_action("kubernetes", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertTrue(r["retryable"])
        self.assertIn("PUT scale: HTTP 409", r["error"])
        self.assertEqual(self.standin.objects[("deployments", "prod", "web")]["spec"]["replicas"],
                         0)

    def test_retry_with_the_epoch_already_stored_only_scales(self):
        self.standin.add("deployments", "prod", "web", 0, {"baton.io/epoch": "7"})
        rv = self.standin.objects[("deployments", "prod", "web")]["metadata"]["resourceVersion"]
        r = run_action("kubernetes", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual([m for m, _ in self.requests()], ["GET", "PUT"])
        self.assertEqual(self.standin.log[1]["body"]["metadata"]["resourceVersion"], rv)

    def test_nothing_is_written_when_already_done(self):
        self.standin.add("deployments", "prod", "web", 3, {"baton.io/epoch": "7"})
        r = run_action("kubernetes", self.params(), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn("already at 3 replicas", r["output"])
        self.assertEqual([m for m, _ in self.requests()], ["GET"])

    def test_drill_only_reads(self):
        self.standin.add("deployments", "prod", "web", 0, {"baton.io/epoch": "6"})
        r = run_action("kubernetes", self.params(), epoch=7, drill=True)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn("drill: would scale to 3 replicas (now 0) and store epoch 7 (now 6)",
                      r["output"])
        self.assertEqual([m for m, _ in self.requests()], ["GET"])

    def test_wrong_token_fails_without_retry(self):
        self.standin.add("deployments", "prod", "web", 0)
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("not-the-token\n")
            f.flush()
            r = run_action("kubernetes", self.params(token_file=f.name), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("HTTP 401", r["error"])

    def test_unknown_deployment_fails_quoting_the_api_server(self):
        self.standin.add("deployments", "prod", "web", 0)
        r = run_action("kubernetes", self.params(name="nope"), epoch=7)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("kubernetes deployment prod/nope: GET: HTTP 404", r["error"])
        self.assertIn('deployments.apps "nope" not found', r["error"])

    def test_missing_token_file_fails_naming_it(self):
        r = run_action("kubernetes", self.params(token_file="/nonexistent/token"), epoch=7)
        self.assertEqual(r["status_name"], "ENOENT", r)
        self.assertIn("/nonexistent/token", r["error"])

    def test_untrusted_certificate_is_refused_and_insecure_skips_the_check(self):
        self.standin.add("deployments", "prod", "web", 0)
        p = self.params()
        del p["ca_file"]
        r = run_action("kubernetes", p, epoch=7)
        self.assertEqual(r["status_name"], "EKEYREJECTED", r)
        self.assertFalse(r["retryable"])
        self.assertEqual(self.requests(), [])
        r = run_action("kubernetes", dict(p, insecure="true"), epoch=7)
        self.assertEqual(r["status_name"], "ok", r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
