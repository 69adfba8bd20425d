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
  4. Where kubectl is installed, it also runs `kubectl apply --dry-run=client
     --validate=strict` on the manifests (see KubectlTest) — never the only check.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
