# SPDX-License-Identifier: MIT
"""deploy/k8s/*.yaml are valid Kubernetes objects (issue 7: `kubectl apply
--dry-run=client` valid), checked by real tooling against the real schema, on any
machine scripts/setup.sh prepared.

Why this way. `kubectl apply --dry-run=client` is not an offline check: kubectl needs
an API server for discovery and for the OpenAPI document it validates against, no
kube-apiserver runs on a Debian 12 CI machine, and kubectl itself may not be installed
(Debian 12's kubernetes-client is 1.20). So:
  1. The schema is vendored: deploy/k8s/schema/kubernetes-1.27.1-definitions.json, the
     OpenAPI v2 definitions of Kubernetes v1.27.1 reachable from the kinds we use
     (Deployment, ConfigMap, Secret, ServiceAccount), taken from the npm packages
     kubernetes-models 4.3.1 + @kubernetes-models/apimachinery 1.2.2 (sha1-pinned) by
     deploy/k8s/schema/extract.py, which documents every transformation. No pip, no
     network at test time.
  2. deploy/k8s/schema/validate.py checks the manifests against it as strictly as
     `kubectl --validate=strict` does (unknown fields, types, required fields, enums,
     int-or-string, quantities, duplicate keys), reading YAML with PyYAML (Debian
     python3-yaml, in scripts/setup.sh) as kubectl reads it (YAML 1.1: 0400 is octal).
  3. The negative cases below prove it fails, naming the file, the line, the document
     and the field path, on each kind of mistake; each mutates a real manifest and
     first asserts the mutation happened, so none can silently turn into a no-op.
  4. Where kubectl is installed (scripts/setup.sh installs Debian's kubernetes-client,
     1.20, when no kubectl is there; checked with it and with 1.27 to 1.33), kubectl
     itself validates them too, never as the only check: `kubectl apply --dry-run=client
     --validate=strict -f deploy/k8s/` against FakeAPIServer below, which serves on
     127.0.0.1 only what kubectl reads (/version, discovery for the vendored kinds,
     /openapi/v2 as the protobuf kubectl asks for, encoded from the same vendored
     definitions, 404 for every object) and refuses writes. It advertises no
     server-side field validation, so kubectl validates client-side, with the schema.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
K8S = os.path.join(ROOT, "deploy", "k8s")
SCHEMA_DIR = os.path.join(K8S, "schema")
VALIDATE = os.path.join(SCHEMA_DIR, "validate.py")
sys.path.insert(0, SCHEMA_DIR)
import validate  # noqa: E402

MANIFESTS = sorted(f for f in os.listdir(K8S) if f.endswith((".yaml", ".yml", ".json")))


def read(name):
    with open(os.path.join(K8S, name)) as f:
        return f.read()


def run_validate(*paths):
    p = subprocess.run([sys.executable, VALIDATE] + list(paths), capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


class ManifestsTest(unittest.TestCase):
    def test_there_are_manifests(self):
        self.assertEqual(MANIFESTS, ["reporter-config.yaml", "reporter-deployment.yaml", "reporter-sidecar.yaml"])

    def test_every_manifest_is_valid(self):
        rc, out, err = run_validate(K8S)
        self.assertEqual((rc, out), (0, ""), err)
        self.assertIn("3 file(s), 3 document(s) valid against the Kubernetes v1.27.1 schema", err)

    def test_the_schema_is_the_vendored_kubernetes_one(self):
        s = validate.Schema()
        self.assertEqual(s.version, "v1.27.1")
        import json
        with open(validate.DEFAULT_SCHEMA) as f:
            info = json.load(f)["info"]["x-baton-source"]
        self.assertEqual([(p["npm"], p["version"]) for p in info["packages"]],
                         [("kubernetes-models", "4.3.1"), ("@kubernetes-models/apimachinery", "1.2.2")])
        for kind in [("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount")]:
            self.assertIn(kind, s.kinds)
        # Small: only what those kinds reach, not the 800 definitions of the full document.
        self.assertLess(len(s.defs), 150)
        c = s.defs["io.k8s.api.core.v1.Container"]
        self.assertEqual(c["required"], ["name"])
        self.assertIn("startupProbe", c["properties"])

    def test_what_kubernetes_accepts_passes(self):
        # int-or-string both ways, quantities as strings and numbers, octal modes, null = unset.
        doc = """apiVersion: apps/v1
kind: Deployment
metadata: {name: x, annotations: {a: "1"}}
spec:
  selector: {matchLabels: {a: b}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          readinessProbe: {httpGet: {port: http, path: /}}
          livenessProbe: {tcpSocket: {port: 8080}}
          resources: {requests: {cpu: 0.5, memory: 1e6}, limits: {cpu: "1", memory: 1Gi, ephemeral-storage: 500M}}
          env: [{name: A, value: "x"}, {name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
          lifecycle: null
      volumes: [{name: v, secret: {secretName: s, defaultMode: 0600}}]
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {k: aGVsbG8=}
stringData: {p: "plain"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
automountServiceAccountToken: false
"""
        d = tempfile.mkdtemp(prefix="baton-k8s-")
        try:
            with open(os.path.join(d, "ok.yaml"), "w") as f:
                f.write(doc)
            rc, out, err = run_validate(os.path.join(d, "ok.yaml"))
            self.assertEqual((rc, out), (0, ""), err)
        finally:
            shutil.rmtree(d)


class NegativeTest(unittest.TestCase):
    """Each case breaks a real manifest one way; the validator must say exactly where."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="baton-k8s-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def broken(self, name, old, new, count=1, text=None):
        text = read(name) if text is None else text
        self.assertEqual(text.count(old), count, "the mutation no longer applies to %s: %r" % (name, old))
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text.replace(old, new))
        return path

    def fails(self, path, *expected):
        """Exactly the expected errors, each a regex for the part after 'file:line: '."""
        rc, out, err = run_validate(path)
        self.assertEqual(rc, 1, "validation passed a broken manifest:\n" + out + err)
        lines = out.splitlines()
        self.assertEqual(len(lines), len(expected), out)
        for line, exp in zip(lines, expected):
            self.assertRegex(line, "^" + re.escape(path) + r":[1-9][0-9]*: " + exp)
        print("\nnegative: " + "\nnegative: ".join(l.replace(self.dir + "/", "") for l in lines), file=sys.stderr)
        return lines

    def test_misspelled_field(self):
        p = self.broken("reporter-deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true")
        (line,) = self.fails(p, re.escape(
            "document 1 (Deployment shop/baton-reporter): spec.template.spec.containers[0].securityContext."
            'readOnlyRootFileSystem: unknown field "readOnlyRootFileSystem" in io.k8s.api.core.v1.SecurityContext'))
        # ... on the line where it is.
        n = int(line.split(":")[1])
        with open(p) as f:
            self.assertIn("readOnlyRootFileSystem", f.read().splitlines()[n - 1])

    def test_misspelled_field_in_a_volume_of_the_sidecar(self):
        p = self.broken("reporter-sidecar.yaml", "secret: {secretName: baton-region-key",
                        "secret: {secretname: baton-region-key")
        self.fails(p, re.escape("document 1 (Deployment shop/shop-web): spec.template.spec.volumes[1].secret."
                                'secretname: unknown field "secretname" in io.k8s.api.core.v1.SecretVolumeSource'))

    def test_wrong_types(self):
        p = self.broken("reporter-deployment.yaml", "replicas: 1", 'replicas: "1"')
        self.fails(p, re.escape('document 1 (Deployment shop/baton-reporter): spec.replicas: expected an integer, '
                                'got a string "1"'))
        p = self.broken("reporter-deployment.yaml", "periodSeconds: 30", "periodSeconds: 30s")
        self.fails(p, re.escape("document 1 (Deployment shop/baton-reporter): spec.template.spec.containers[0]."
                                'livenessProbe.periodSeconds: expected an integer, got a string "30s"'))
        p = self.broken("reporter-config.yaml", "  reporter.yaml: |", "  interval_ms: 1000\n  reporter.yaml: |")
        self.fails(p, re.escape('document 1 (ConfigMap shop/baton-reporter): data.interval_ms: expected a string, '
                                'got an integer 1000 (quote it)'))
        p = self.broken("reporter-sidecar.yaml", 'args: ["--config", "/etc/baton/reporter.yaml"]',
                        'args: "--config /etc/baton/reporter.yaml"')
        self.fails(p, re.escape("document 1 (Deployment shop/shop-web): spec.template.spec.containers[1].args: "
                                "expected an array, got a string"))

    def test_missing_required_fields(self):
        p = self.broken("reporter-deployment.yaml", "- name: reporter\n          image:", "- image:")
        self.fails(p, re.escape("document 1 (Deployment shop/baton-reporter): spec.template.spec.containers[0].name: "
                                'missing required field "name" in io.k8s.api.core.v1.Container'))
        p = self.broken("reporter-sidecar.yaml", "  selector:\n    matchLabels: {app.kubernetes.io/name: shop-web}\n", "")
        self.fails(p, re.escape("document 1 (Deployment shop/shop-web): spec.selector: "
                                'missing required field "selector" in io.k8s.api.apps.v1.DeploymentSpec'))
        p = self.broken("reporter-config.yaml", "  name: baton-reporter\n", "")
        self.fails(p, re.escape("document 1 (ConfigMap shop/?): metadata.name: missing required field"))

    def test_bad_values(self):
        p = self.broken("reporter-deployment.yaml", "seccompProfile: {type: RuntimeDefault}",
                        "seccompProfile: {type: runtime/default}")
        self.fails(p, re.escape("document 1 (Deployment shop/baton-reporter): spec.template.spec.securityContext."
                                'seccompProfile.type: unsupported value "runtime/default": must be one of '
                                "Localhost, RuntimeDefault, Unconfined"))
        p = self.broken("reporter-deployment.yaml", "memory: 64Mi", "memory: 64MB")
        self.fails(p, re.escape("document 1 (Deployment shop/baton-reporter): spec.template.spec.containers[0]."
                                'resources.limits.memory: invalid quantity "64MB"'))
        p = self.broken("reporter-sidecar.yaml", "defaultMode: 0400", "defaultMode: 0400000000000")
        self.fails(p, re.escape("document 1 (Deployment shop/shop-web): spec.template.spec.volumes[1].secret."
                                "defaultMode: 34359738368 does not fit in int32"))

    def test_duplicate_key(self):
        p = self.broken("reporter-deployment.yaml", "            periodSeconds: 30\n",
                        "            periodSeconds: 30\n            periodSeconds: 10\n")
        self.fails(p, re.escape('duplicate key "periodSeconds" (first on line'))

    def test_unknown_kind(self):
        p = self.broken("reporter-sidecar.yaml", "apiVersion: apps/v1", "apiVersion: extensions/v1beta1")
        self.fails(p, re.escape('document 1 (Deployment shop/shop-web): kind: no kind "Deployment" in '
                                '"extensions/v1beta1" in the Kubernetes v1.27.1 schema'))

    def test_the_error_names_the_document_of_a_multi_document_file(self):
        both = read("reporter-config.yaml") + "---\n" + read("reporter-deployment.yaml")
        p = self.broken("reporter-config.yaml", "mountPath: /etc/baton/key,", "mountpath: /etc/baton/key,", text=both)
        self.fails(p, re.escape("document 2 (Deployment shop/baton-reporter): spec.template.spec.containers[0]."
                                'volumeMounts[1].mountpath: unknown field "mountpath" in io.k8s.api.core.v1.VolumeMount'),
                   re.escape("document 2 (Deployment shop/baton-reporter): spec.template.spec.containers[0]."
                             'volumeMounts[1].mountPath: missing required field "mountPath" in '
                             "io.k8s.api.core.v1.VolumeMount"))

    def test_yaml_syntax_error(self):
        p = self.broken("reporter-deployment.yaml", "  replicas: 1\n", "  replicas: 1\n   bad: indent\n")
        self.fails(p, re.escape("YAML: mapping values are not allowed here (column 7)"))

    def test_a_directory_with_one_bad_file_fails(self):
        for m in MANIFESTS:
            shutil.copy(os.path.join(K8S, m), self.dir)
        p = self.broken("reporter-sidecar.yaml", "containerPort: 8080", "containerPort: http")
        with open(p) as f:
            n = [i for i, l in enumerate(f, 1) if "containerPort: http" in l]
        rc, out, err = run_validate(self.dir)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(out, p + ":%d: document 1 (Deployment " % n[0] +
                         "shop/shop-web): spec.template.spec.containers[0].ports[0].containerPort: expected an "
                         'integer, got a string "http"\n')


# ---- kubectl against a stand-in API server ----

def _varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(num, payload):  # a length-delimited protobuf field
    payload = payload.encode() if isinstance(payload, str) else payload
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _named(name, value):  # NamedSchema / NamedAny: name = 1, value = 2
    return _field(1, name) + _field(2, value)


def _any(value):  # openapi.v2.Any: yaml = 2 (JSON is YAML)
    return _field(2, json.dumps(value))


def _schema_pb(s):
    """openapi.v2.Schema (gnostic openapiv2/OpenAPIv2.proto), the fields the definitions use."""
    out = b""
    if "$ref" in s:
        out += _field(1, s["$ref"])
    if "format" in s:
        out += _field(2, s["format"])
    for r in s.get("required", []):
        out += _field(19, r)
    for e in s.get("enum", []):
        out += _field(20, _any(e))
    if isinstance(s.get("additionalProperties"), dict):
        out += _field(21, _field(1, _schema_pb(s["additionalProperties"])))
    if "type" in s:
        out += _field(22, _field(1, s["type"]))
    if "items" in s:
        out += _field(23, _field(1, _schema_pb(s["items"])))
    if "properties" in s:
        out += _field(25, b"".join(_field(1, _named(k, _schema_pb(v))) for k, v in s["properties"].items()))
    for k, v in s.items():
        if k.startswith("x-"):
            out += _field(31, _named(k, _any(v)))
    return out


def openapi_v2_protobuf(doc):
    """openapi.v2.Document: swagger = 1, info = 2 (title 1, version 2), definitions = 9."""
    return (_field(1, doc["swagger"]) + _field(2, _field(1, doc["info"]["title"]) + _field(2, doc["info"]["version"]))
            + _field(9, b"".join(_field(1, _named(n, _schema_pb(s))) for n, s in doc["definitions"].items())))


class FakeAPIServer:
    def __init__(self, schema_path=validate.DEFAULT_SCHEMA):
        with open(schema_path) as f:
            doc = json.load(f)
        self.requests = []
        pb = openapi_v2_protobuf(doc)
        groups = {}  # groupVersion -> [(kind, plural)]
        for s in doc["definitions"].values():
            for g in s.get("x-kubernetes-group-version-kind", []):
                gv = g["group"] + "/" + g["version"] if g["group"] else g["version"]
                groups.setdefault(gv, []).append(g["kind"])
        groups.setdefault("v1", []).append("Namespace")
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]

        def resources(gv):
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                {"name": k.lower() + "s", "singularName": k.lower(), "namespaced": k != "Namespace", "kind": k,
                 "verbs": verbs} for k in sorted(groups[gv])]}
        routes = {
            "/version": {"major": "1", "minor": doc["info"]["version"].split(".")[1],
                         "gitVersion": doc["info"]["version"]},
            "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                 "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                for gv in sorted(groups) if "/" in gv]},
            "/openapi/v2": pb,
        }
        for gv in groups:
            routes[("/api/" if "/" not in gv else "/apis/") + gv] = resources(gv)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body):
                ctype = "application/octet-stream" if isinstance(body, bytes) else "application/json"
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0]
                server.requests.append("GET " + path)
                if path in routes:
                    return self.reply(200, routes[path])
                self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                 "code": 404, "message": path + " not found", "details": {}})

            def do_POST(self):
                server.requests.append(self.command + " " + self.path)
                self.reply(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405,
                                 "reason": "MethodNotAllowed", "message": "this stand-in takes no writes"})
            do_PUT = do_PATCH = do_DELETE = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@unittest.skipUnless(shutil.which("kubectl"), "kubectl is not installed (the vendored-schema checks above still ran)")
class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = FakeAPIServer()
        cls.dir = tempfile.mkdtemp(prefix="baton-kubectl-")
        with open(os.path.join(cls.dir, "kubeconfig"), "w") as f:
            f.write("apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                    "clusters: [{name: fake, cluster: {server: '%s'}}]\n"
                    "contexts: [{name: fake, context: {cluster: fake, user: nobody}}]\n"
                    "users: [{name: nobody, user: {}}]\n" % cls.api.url)
        cls.env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        cls.env.update(KUBECONFIG=os.path.join(cls.dir, "kubeconfig"), HOME=cls.dir)
        # kubectl >= 1.25 spells it strict; older ones only validate (strictly) with true.
        helptext = subprocess.run(["kubectl", "apply", "--help"], capture_output=True, text=True, env=cls.env).stdout
        cls.validate_flag = "--validate=strict" if "strict" in helptext else "--validate=true"
        v = subprocess.run(["kubectl", "version", "--client"], capture_output=True, text=True, env=cls.env)
        print("\nfigure: " + (v.stdout.strip().splitlines() or ["kubectl ?"])[0], file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def kubectl_apply(self, path):
        self.api.requests.clear()
        p = subprocess.run(["kubectl", "--cache-dir", os.path.join(self.dir, "cache"), "--request-timeout=10s",
                            "apply", "--dry-run=client", self.validate_flag, "-f", path],
                           capture_output=True, text=True, env=self.env, timeout=60)
        # kubectl read the schema (so it validated with it) and wrote nothing.
        self.assertIn("GET /openapi/v2", self.api.requests, p.stdout + p.stderr)
        self.assertEqual([r for r in self.api.requests if not r.startswith("GET ")], [])
        return p

    def test_kubectl_accepts_the_manifests(self):
        p = self.kubectl_apply(K8S)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(sorted(p.stdout.splitlines()), [
            "configmap/baton-reporter created (dry run)",
            "deployment.apps/baton-reporter created (dry run)",
            "deployment.apps/shop-web created (dry run)"])

    def test_kubectl_rejects_a_broken_manifest(self):
        text = read("reporter-deployment.yaml")
        for old, new in [("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"),
                         ("replicas: 1", 'replicas: "1"'),
                         ("- name: reporter\n          image:", "- image:")]:
            self.assertEqual(text.count(old), 1, old)
            text = text.replace(old, new)
        path = os.path.join(self.dir, "broken.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = self.kubectl_apply(path)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        print("\nnegative: kubectl: " + p.stderr.strip(), file=sys.stderr)
        self.assertIn('error validating "%s"' % path, p.stderr)
        self.assertIn('ValidationError(Deployment.spec.template.spec.containers[0].securityContext): unknown field '
                      '"readOnlyRootFileSystem" in io.k8s.api.core.v1.SecurityContext', p.stderr)
        self.assertIn("ValidationError(Deployment.spec.replicas): invalid type for "
                      'io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"', p.stderr)
        self.assertIn('ValidationError(Deployment.spec.template.spec.containers[0]): missing required field "name" '
                      "in io.k8s.api.core.v1.Container", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
