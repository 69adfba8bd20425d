#!/usr/bin/env python3
"""Strict, offline validation of Kubernetes manifests against the vendored schema.

    python3 deploy/k8s/schema/validate.py deploy/k8s/          # every *.yaml/*.yml/*.json
    python3 deploy/k8s/schema/validate.py a.yaml b.yaml

What `kubectl apply --dry-run=client --validate=strict` checks, without an API
server, against kubernetes-1.27.1-definitions.json (Kubernetes' own OpenAPI v2
definitions; provenance in extract.py and ../README.md):
  - every field is known to its type (unknown fields are errors, as --validate=strict);
  - types: string, integer (int32/int64 range), number, boolean, object, array; an
    int-or-string takes either; a Quantity is a string such as 10m, 64Mi or 1e3 (or a
    number); a byte field (Secret.data) is base64;
  - required fields, and metadata.name (apply needs it);
  - enum values where Kubernetes declares them (imagePullPolicy, seccompProfile.type...);
  - apiVersion/kind name a kind the schema has; no key appears twice in a mapping.
Stricter than kubectl in one way, like the API server: a string field given a number
or a boolean (port: 5432 in a ConfigMap's data) is an error (kubectl's client-side
check lets it pass and the server then refuses it).

Each error names the file, the line, the document (index and kind/namespace/name)
and the field path, e.g.
  deploy/k8s/x.yaml:38: document 1 (Deployment shop/baton-reporter):
    spec.template.spec.containers[0].imagee: unknown field "imagee" in io.k8s.api.core.v1.Container
Exit status 0 when everything is valid, 1 on a validation error, 2 on a usage error.
Needs PyYAML (Debian: python3-yaml; scripts/setup.sh installs it).
"""
import base64
import binascii
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("validate: PyYAML is missing (Debian package python3-yaml; scripts/setup.sh installs it)")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "kubernetes-1.27.1-definitions.json")
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):
# a signed decimal, then a binary SI suffix, a decimal SI suffix or a decimal exponent.
QUANTITY_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
INT_RANGE = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


# ---- YAML: PyYAML's safe loader, plus line numbers and duplicate-key errors ----

class YamlError(Exception):
    def __init__(self, line, msg):
        super().__init__(msg)
        self.line, self.msg = line, msg


class LineDict(dict):
    lines = None  # key -> line of the key


class LineList(list):
    lines = None  # index -> line of the item


class _Loader(yaml.SafeLoader):
    pass


def _map(loader, node):
    loader.flatten_mapping(node)
    out = LineDict()
    out.lines = {}
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
        line = knode.start_mark.line + 1
        if not isinstance(key, str):
            raise YamlError(line, f"mapping key {key!r} is not a string")
        if key in out:
            raise YamlError(line, f'duplicate key "{key}" (first on line {out.lines[key]})')
        out[key] = loader.construct_object(vnode, deep=True)
        out.lines[key] = line
    return out


def _seq(loader, node):
    out = LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.lines = [n.start_mark.line + 1 for n in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _seq)
# Dates stay strings, as they do once kubectl has turned the YAML into JSON.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load_documents(path):
    """[(index from 1, first line, object)] for every non-empty document."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    docs = []
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            index += 1
            if node is None:
                continue
            obj = loader.construct_document(node)
            if obj is not None:
                docs.append((index, node.start_mark.line + 1, obj))
    except YamlError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        what = getattr(e, "problem", None) or str(e).replace("\n", " ")
        raise YamlError(mark.line + 1 if mark else 0, f"YAML: {what}" + (f" (column {mark.column + 1})" if mark else ""))
    finally:
        loader.dispose()
    return docs


# ---- the schema ----

class Schema:
    def __init__(self, path=DEFAULT_SCHEMA):
        with open(path) as f:
            doc = json.load(f)
        self.version = doc.get("info", {}).get("version", "?")
        self.defs = doc["definitions"]
        self.kinds = {}  # (apiVersion, kind) -> definition name
        for name, s in self.defs.items():
            for gvk in s.get("x-kubernetes-group-version-kind", []):
                gv = gvk["group"] + "/" + gvk["version"] if gvk["group"] else gvk["version"]
                self.kinds[(gv, gvk["kind"])] = name
        for name, s in self.defs.items():  # a dangling reference is the schema's bug, not the manifest's
            for r in _refs(s):
                if r not in self.defs:
                    raise ValueError(f"{path}: {name} refers to {r}, which is not in the file")

    def validate(self, obj, line=0):
        """[(line, field path, message)] for one document."""
        errs = []
        if not isinstance(obj, dict):
            return [(line, "", f"a manifest must be a mapping, not {_what(obj)}")]
        av, kind = obj.get("apiVersion"), obj.get("kind")
        for f, v in (("apiVersion", av), ("kind", kind)):
            if not isinstance(v, str) or not v:
                errs.append((_line(obj, f, line), f, "missing required field" if v is None
                             else f"must be a non-empty string, not {_what(v)}"))
        if errs:
            return errs
        name = self.kinds.get((av, kind))
        if name is None:
            known = ", ".join(f"{k} ({g})" for g, k in sorted(self.kinds))
            return [(_line(obj, "kind", line), "kind",
                     f'no kind "{kind}" in "{av}" in the Kubernetes {self.version} schema (it has: {known})')]
        self._check(obj, {"$ref": "#/definitions/" + name}, [], line, errs)
        md = obj.get("metadata")
        if isinstance(md, dict) and not md.get("name") and not md.get("generateName"):
            errs.append((_line(obj, "metadata", line), "metadata.name", "missing required field (kubectl apply needs a name)"))
        elif md is None:
            errs.append((line, "metadata.name", "missing required field (kubectl apply needs a name)"))
        return errs

    def _check(self, v, s, path, line, errs, defname=None):
        if "$ref" in s:
            ref = s["$ref"].rsplit("/", 1)[-1]
            if ref == QUANTITY:
                if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                          or isinstance(v, str) and QUANTITY_RE.fullmatch(v)):
                    errs.append((line, _fmt(path), f"invalid quantity {_show(v)} (e.g. 100m, 64Mi, 1Gi, 2)"))
                return
            return self._check(v, self.defs[ref], path, line, errs, ref)
        if v is None:  # null means unset
            return
        t = s.get("type")
        where = f" in {defname}" if defname else ""
        if t == "object":
            if not isinstance(v, dict):
                return errs.append((line, _fmt(path), f"expected an object{where}, got {_what(v)} {_show(v)}"))
            props, addl = s.get("properties"), s.get("additionalProperties")
            for k, sub in v.items():
                kl = _line(v, k, line)
                if props is not None and k in props:
                    self._check(sub, props[k], path + [k], kl, errs)
                elif isinstance(addl, dict):
                    self._check(sub, addl, path + [k], kl, errs)
                elif props is not None or addl is False:
                    errs.append((kl, _fmt(path + [k]), f'unknown field "{k}"{where}'))
                # else: a free-form object (FieldsV1, RawExtension)
            for r in s.get("required", []):
                if v.get(r) is None:
                    errs.append((line, _fmt(path + [r]), f'missing required field "{r}"{where}'))
        elif t == "array":
            if not isinstance(v, list):
                return errs.append((line, _fmt(path), f"expected an array, got {_what(v)} {_show(v)}"))
            for i, item in enumerate(v):
                self._check(item, s.get("items", {}), path + [i], _line(v, i, line), errs)
        elif t == "string":
            fmt = s.get("format")
            if fmt == "int-or-string":
                if not (isinstance(v, str) or isinstance(v, int) and not isinstance(v, bool)):
                    return errs.append((line, _fmt(path), f"expected an integer or a string, got {_what(v)} {_show(v)}"))
                if isinstance(v, int) and not INT_RANGE["int32"][0] <= v <= INT_RANGE["int32"][1]:
                    return errs.append((line, _fmt(path), f"{v} does not fit in int32"))
            elif not isinstance(v, str):
                return errs.append((line, _fmt(path), f"expected a string, got {_what(v)} {_show(v)} (quote it)"))
            elif fmt == "byte":
                try:
                    base64.b64decode(v, validate=True)
                except (binascii.Error, ValueError):
                    return errs.append((line, _fmt(path), "not valid base64 (use stringData for plain text)"))
        elif t == "integer":
            if not isinstance(v, int) or isinstance(v, bool):
                return errs.append((line, _fmt(path), f"expected an integer, got {_what(v)} {_show(v)}"))
            lo, hi = INT_RANGE.get(s.get("format"), INT_RANGE["int64"])
            if not lo <= v <= hi:
                return errs.append((line, _fmt(path), f"{v} does not fit in {s.get('format', 'int64')}"))
        elif t == "number":
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return errs.append((line, _fmt(path), f"expected a number, got {_what(v)} {_show(v)}"))
        elif t == "boolean":
            if not isinstance(v, bool):
                return errs.append((line, _fmt(path), f"expected a boolean, got {_what(v)} {_show(v)}"))
        elif t is not None:
            raise ValueError(f"schema type {t!r} not handled")
        if "enum" in s and v not in s["enum"]:
            errs.append((line, _fmt(path), f"unsupported value {_show(v)}: must be one of {', '.join(map(str, s['enum']))}"))


def _refs(s):
    if isinstance(s, dict):
        for k, v in s.items():
            if k == "$ref":
                yield v.rsplit("/", 1)[-1]
            else:
                yield from _refs(v)
    elif isinstance(s, list):
        for x in s:
            yield from _refs(x)


def _line(container, key, default):
    lines = getattr(container, "lines", None)
    if isinstance(lines, dict):
        return lines.get(key, default)
    if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
        return lines[key]
    return default


def _fmt(path):
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", p):
            out += ("." if out else "") + p
        else:
            out += f"[{json.dumps(p)}]"
    return out or "(document)"


def _what(v):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            type(None): "null"}.get(type(v), "an object" if isinstance(v, dict) else
                                    "an array" if isinstance(v, list) else type(v).__name__)


def _show(v):
    if isinstance(v, (dict, list)):
        return ""
    s = json.dumps(v) if isinstance(v, (str, bool, int, float)) or v is None else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def describe(obj):
    if not isinstance(obj, dict):
        return "?"
    md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    ns = md.get("namespace")
    name = md.get("name") or "?"
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name}"


def manifest_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):  # like kubectl -f DIR: the directory's own .json/.yaml/.yml
            out += sorted(os.path.join(p, f) for f in os.listdir(p)
                          if f.endswith((".yaml", ".yml", ".json")) and os.path.isfile(os.path.join(p, f)))
        else:
            out.append(p)
    return out


def validate_files(paths, schema):
    """(error lines, number of documents)."""
    errors, ndocs = [], 0
    for path in manifest_files(paths):
        try:
            docs = load_documents(path)
        except YamlError as e:
            errors.append(f"{path}:{e.line}: {e.msg}")
            continue
        except OSError as e:
            errors.append(f"{path}: {e.strerror}")
            continue
        if not docs:
            errors.append(f"{path}: no document")
        for index, line, obj in docs:
            ndocs += 1
            for eline, fpath, msg in schema.validate(obj, line):
                errors.append(f"{path}:{eline}: document {index} ({describe(obj)}): {fpath}: {msg}")
    return errors, ndocs


def main(argv):
    args = argv[1:]
    schema_path = DEFAULT_SCHEMA
    if len(args) >= 2 and args[0] == "--schema":
        schema_path, args = args[1], args[2:]
    if not args or args[0].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    schema = Schema(schema_path)
    files = manifest_files(args)
    if not files:
        print("validate: no manifest found", file=sys.stderr)
        return 2
    errors, ndocs = validate_files(args, schema)
    for e in errors:
        print(e)
    if errors:
        print(f"validate: {len(errors)} error(s) (Kubernetes {schema.version} schema)", file=sys.stderr)
        return 1
    print(f"validate: {len(files)} file(s), {ndocs} document(s) valid against the Kubernetes {schema.version} schema",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
