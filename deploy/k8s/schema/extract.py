#!/usr/bin/env python3
"""Regenerate kubernetes-1.27.1-definitions.json (the vendored Kubernetes schema).

Source: the npm packages kubernetes-models 4.3.1 and @kubernetes-models/apimachinery
1.2.2 (its dependency), which ship every definition of the Kubernetes v1.27.1 OpenAPI
v2 document (swagger.json, with the +enum values the Go types declare) as plain JSON
Schema objects, one file each (_schemas/*.js: `const schema = {...}`). 4.3.1 is the
last release shipping them as data; later ones ship compiled validators.

    python3 deploy/k8s/schema/extract.py            # npm pack + check sha1 + write
    python3 deploy/k8s/schema/extract.py --from DIR # DIR has the two .tgz already

Writes only the definitions reachable from ROOTS, put back into the upstream
swagger.json form, so that a tool reading Kubernetes' own document (kubectl,
tests/integration/test_k8s_manifests.py) reads this one the same way:
  - kubernetes-models marks optional fields `nullable: true` and wraps optional
    references as oneOf [$ref, {type: null}]: removed / unwrapped;
  - references "X#" become "#/definitions/X";
  - the single-valued apiVersion/kind enums (and the `required` on them) that it adds
    to top-level kinds become upstream's x-kubernetes-group-version-kind;
  - IntOrString and Quantity, which it rewrites as oneOf, are upstream's
    {type: string, format: int-or-string} and {type: string}.
Nothing else is changed (descriptions are not in the source).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

K8S_VERSION = "v1.27.1"
PACKAGES = [  # name, version, tarball sha1 (npm's dist.shasum)
    ("kubernetes-models", "4.3.1", "14b8e465410f22d96270e71f9bb62bf7e5066e9c"),
    ("@kubernetes-models/apimachinery", "1.2.2", "ea518f530b99c163bbabfa6da73fbe40c520b356"),
]
# The kinds deploy/k8s/ uses or documents (the region key is a Secret created by
# kubectl; a ServiceAccount is the usual next addition). Add a kind here, rerun.
ROOTS = [
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.ServiceAccount",
]
UPSTREAM = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def tarball_name(name, version):
    return name.lstrip("@").replace("/", "-") + "-" + version + ".tgz"


def read_schemas(tgz):
    out = {}
    with tarfile.open(tgz) as tf:
        for m in tf.getmembers():
            if not re.fullmatch(r"package/_schemas/[A-Za-z0-9]+\.js", m.name):
                continue
            text = tf.extractfile(m).read().decode()
            i = text.find("const schema = ")
            if i < 0:
                continue
            schema, _ = json.JSONDecoder().raw_decode(text, i + len("const schema = "))
            names = re.findall(r'register\)\("([^"]+)", schema\)', text)
            if len(names) != 1:
                sys.exit(f"extract: {m.name}: expected one register() call, found {names}")
            out[names[0]] = schema
    return out


def ref(name):
    if not name.endswith("#"):
        sys.exit(f"extract: unexpected reference {name!r}")
    return {"$ref": "#/definitions/" + name[:-1]}


def normalize(s):
    if isinstance(s, list):
        return [normalize(x) for x in s]
    if not isinstance(s, dict):
        return s
    if "oneOf" in s:
        one = s["oneOf"]
        if len(one) == 2 and set(one[0]) == {"$ref"} and one[1] == {"type": "null"} and len(s) == 1:
            return ref(one[0]["$ref"])
        sys.exit(f"extract: unexpected oneOf {json.dumps(s)}")
    out = {}
    for k, v in s.items():
        if k == "nullable":
            continue
        if k == "$ref":
            out.update(ref(v))
        elif k == "properties":
            out[k] = {p: normalize(ps) for p, ps in v.items()}
        else:
            out[k] = normalize(v)
    return out


def to_upstream(name, s):
    if name in UPSTREAM:
        return dict(UPSTREAM[name])
    s = normalize(s)
    props = s.get("properties", {})
    av, kd = props.get("apiVersion", {}), props.get("kind", {})
    if len(av.get("enum", [])) == 1 and len(kd.get("enum", [])) == 1:
        gv = av.pop("enum")[0]
        kind = kd.pop("enum")[0]
        group, _, version = gv.rpartition("/")
        s["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
        req = [r for r in s.get("required", []) if r not in ("apiVersion", "kind")]
        if req:
            s["required"] = req
        else:
            s.pop("required", None)
    return s


def refs(s):
    if isinstance(s, dict):
        for k, v in s.items():
            if k == "$ref":
                yield v.rsplit("/", 1)[-1]
            else:
                yield from refs(v)
    elif isinstance(s, list):
        for x in s:
            yield from refs(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src", help="directory holding the two npm tarballs")
    ap.add_argument("-o", "--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           f"kubernetes-{K8S_VERSION[1:]}-definitions.json"))
    args = ap.parse_args()
    tmp = None
    src = args.src
    if not src:
        tmp = tempfile.TemporaryDirectory()
        src = tmp.name
        subprocess.run(["npm", "pack", "--silent", "--pack-destination", src] +
                       [f"{n}@{v}" for n, v, _ in PACKAGES], check=True, stdout=subprocess.DEVNULL)
    allschemas = {}
    sources = []
    for name, version, sha1 in PACKAGES:
        tgz = os.path.join(src, tarball_name(name, version))
        data = open(tgz, "rb").read()
        got = hashlib.sha1(data).hexdigest()
        if got != sha1:
            sys.exit(f"extract: {tgz}: sha1 {got}, expected {sha1}")
        allschemas.update(read_schemas(tgz))
        sources.append({"npm": name, "version": version, "sha1": sha1})
    defs = {}
    todo = list(ROOTS)
    while todo:
        n = todo.pop()
        if n in defs:
            continue
        if n not in allschemas:
            sys.exit(f"extract: definition {n} not in the packages")
        defs[n] = to_upstream(n, allschemas[n])
        todo.extend(refs(defs[n]))
    doc = {
        "swagger": "2.0",
        "info": {
            "title": "Kubernetes",
            "version": K8S_VERSION,
            "x-baton-source": {
                "packages": sources,
                "roots": ROOTS,
                "generator": "deploy/k8s/schema/extract.py",
            },
        },
        "paths": {},
        "definitions": {n: defs[n] for n in sorted(defs)},
    }
    with open(args.output, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"extract: {len(defs)} definitions -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
