"""Static checks of the OpenAPI v3 documents in openapi/ (made by scripts/gen-openapi).

No server is needed.  kubectl reads these documents for `explain`, for the
field-validation support check of create/apply/replace, and for the strategic
merge patch that client-side apply computes; kemu's own server reads the patch
extensions from them.  Where the reference documents of a real kube-apiserver
are present beside the repo (../shared/reference/upstream-openapi-v3/), the
schemas are compared with them.
"""

import glob
import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
OPENAPI = REPO / "openapi"
REFERENCE = REPO.parent / "shared" / "reference" / "upstream-openapi-v3"

PREFIX = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
EXTENSIONS = ["x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy",
              "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"]
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
LIST_PARAMS = {"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
               "resourceVersionMatch", "watch", "timeoutSeconds", "allowWatchBookmarks",
               "sendInitialEvents"}
WRITE_PARAMS = {"dryRun", "fieldManager", "fieldValidation"}

# file -> [(group, version, kind, plural, namespaced, subresources)]
SERVED = {
    "api__v1.json": [
        ("", "v1", "Namespace", "namespaces", False, ["status", "finalize"]),
        ("", "v1", "Node", "nodes", False, ["status"]),
        ("", "v1", "Pod", "pods", True, ["status", "eviction", "binding"]),
        ("", "v1", "Service", "services", True, ["status"]),
        ("", "v1", "Endpoints", "endpoints", True, []),
    ],
    "apis__apps__v1.json": [
        ("apps", "v1", "Deployment", "deployments", True, ["status", "scale"]),
        ("apps", "v1", "ReplicaSet", "replicasets", True, ["status", "scale"]),
        ("apps", "v1", "StatefulSet", "statefulsets", True, ["status", "scale"]),
        ("apps", "v1", "DaemonSet", "daemonsets", True, ["status"]),
    ],
    "apis__discovery.k8s.io__v1.json": [
        ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, []),
    ],
}
# Kinds that must have a schema (with x-kubernetes-group-version-kind) per file.
EXTRA_KINDS = {
    "api__v1.json": [("", "v1", "Status"), ("", "v1", "DeleteOptions"), ("", "v1", "WatchEvent"),
                     ("", "v1", "Binding"), ("policy", "v1", "Eviction")],
    "apis__apps__v1.json": [("", "v1", "Status"), ("", "v1", "DeleteOptions"),
                            ("", "v1", "WatchEvent"), ("autoscaling", "v1", "Scale")],
    "apis__discovery.k8s.io__v1.json": [("", "v1", "Status"), ("", "v1", "DeleteOptions")],
    "apis__autoscaling__v1.json": [("autoscaling", "v1", "Scale")],
    "apis__policy__v1.json": [("policy", "v1", "Eviction")],
}

FILES = sorted(os.path.basename(p) for p in glob.glob(str(OPENAPI / "*.json")))
_cache = {}


def load(name, folder=OPENAPI):
    key = (str(folder), name)
    if key not in _cache:
        with open(folder / name, "rb") as f:
            _cache[key] = json.load(f)
    return _cache[key]


def schemas(name):
    return load(name)["components"]["schemas"]


def gv_prefix(fname):
    return "/" + fname[:-len(".json")].replace("__", "/")


def operations(doc):
    for path, item in doc["paths"].items():
        for method in ("get", "put", "post", "delete", "patch"):
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def query_params(op, path_params):
    return {p["name"] for p in op.get("parameters", []) + path_params if p.get("in") == "query"}


def schema_for_kind(fname, group, version, kind):
    hits = [n for n, s in schemas(fname).items()
            if {"group": group, "version": version, "kind": kind}
            in s.get("x-kubernetes-group-version-kind", [])]
    if len(hits) > 1:
        hits = [h for h in hits if not h.startswith(META)] or hits
    return hits


def prop(fname, schema, name):
    return schemas(fname)[schema]["properties"][name]


def walk(node, fn, path=""):
    fn(node, path)
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, fn, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, fn, path + "/%d" % i)


# --------------------------------------------------------------------------- structure


def test_documents_present():
    for fname in SERVED:
        assert fname in FILES, "openapi/%s missing: run scripts/gen-openapi" % fname


@pytest.mark.parametrize("fname", FILES)
def test_openapi_version_and_compact(fname):
    raw = (OPENAPI / fname).read_bytes()
    doc = load(fname)
    assert str(doc.get("openapi", "")).startswith("3.0."), doc.get("openapi")
    assert isinstance(doc.get("paths"), dict)
    assert isinstance(doc["components"]["schemas"], dict) and doc["components"]["schemas"]
    assert b"\n" not in raw.strip(), "documents are served as-is: keep them unindented"


@pytest.mark.parametrize("fname", FILES)
def test_every_ref_resolves(fname):
    doc = load(fname)
    bad = []

    def check(node, path):
        if isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith(PREFIX) or ref[len(PREFIX):] not in doc["components"]["schemas"]:
                bad.append((path, ref))
            siblings = set(node) - {"$ref"}
            if siblings:
                bad.append((path, "$ref with siblings %s (wrap in allOf)" % sorted(siblings)))
    walk(doc, check)
    assert not bad, bad[:20]


def walk_schema(node, fn, path):
    """Visit every schema object (not property-name maps) below node."""
    if not isinstance(node, dict):
        return
    fn(node, path)
    for k, v in node.get("properties", {}).items():
        walk_schema(v, fn, path + "." + k)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            walk_schema(node[key], fn, path + "/" + key)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, v in enumerate(node.get(key, [])):
            walk_schema(v, fn, path + "/%s/%d" % (key, i))


@pytest.mark.parametrize("fname", FILES)
def test_schemas_are_openapi_3_0(fname):
    bad = []

    def check(node, path):
        if "type" in node and not isinstance(node["type"], str):
            bad.append((path, node["type"]))  # JSON-schema style ["string","null"]
        for k in ("$defs", "$schema", "const", "prefixItems"):
            if k in node:
                bad.append((path, k))
    for name, s in schemas(fname).items():
        walk_schema(s, check, name)
    assert not bad, bad[:20]


@pytest.mark.parametrize("fname", sorted(set(SERVED) | set(EXTRA_KINDS)))
def test_served_kinds_have_schemas(fname):
    if fname not in FILES:
        pytest.skip("%s not generated" % fname)
    kinds = list(EXTRA_KINDS.get(fname, []))
    for g, v, kind, _, _, _ in SERVED.get(fname, []):
        kinds += [(g, v, kind), (g, v, kind + "List")]
    for g, v, kind in kinds:
        hits = schema_for_kind(fname, g, v, kind)
        assert len(hits) == 1, (g, v, kind, hits)
        s = schemas(fname)[hits[0]]
        assert isinstance(s["x-kubernetes-group-version-kind"], list)
        assert s.get("description"), hits[0]


@pytest.mark.parametrize("fname", sorted(SERVED))
def test_served_paths_and_operations(fname):
    doc = load(fname)
    base = gv_prefix(fname)
    for g, v, kind, plural, namespaced, subs in SERVED[fname]:
        coll = base + ("/namespaces/{namespace}/" if namespaced else "/") + plural
        item = coll + "/{name}"
        assert "get" in doc["paths"][coll] and "post" in doc["paths"][coll], coll
        assert {"get", "put", "patch", "delete"} <= set(doc["paths"][item]), item
        if namespaced:
            assert "get" in doc["paths"][base + "/" + plural]
        for sub in subs:
            assert item + "/" + sub in doc["paths"], item + "/" + sub
        gvk = {"group": g, "version": v, "kind": kind}
        assert doc["paths"][item]["patch"]["x-kubernetes-group-version-kind"] == gvk


@pytest.mark.parametrize("fname", sorted(SERVED))
def test_operation_metadata(fname):
    doc = load(fname)
    ids = []
    for path, method, op, pparams in operations(doc):
        ids.append(op["operationId"])
        if path.endswith(gv_prefix(fname) + "/"):
            continue  # the group-version resource list has no kind
        gvk = op.get("x-kubernetes-group-version-kind")
        assert isinstance(gvk, dict) and set(gvk) == {"group", "version", "kind"}, (path, method)
        assert op.get("x-kubernetes-action"), (path, method)
        q = query_params(op, pparams)
        assert "pretty" in q, (path, method)
        if op["x-kubernetes-action"] == "list":
            assert LIST_PARAMS <= q, (path, method, LIST_PARAMS - q)
        if method in ("put", "post", "patch"):
            assert WRITE_PARAMS <= q, (path, method, WRITE_PARAMS - q)
        for code, r in op["responses"].items():
            for ctype, c in r.get("content", {}).items():
                assert "schema" in c, (path, method, code, ctype)
    assert len(ids) == len(set(ids)), "duplicate operationId"


@pytest.mark.parametrize("fname", sorted(SERVED))
def test_patch_operations(fname):
    """kubectl's field-validation check needs fieldValidation on *every* PATCH of
    a kind (it stops at the first one it meets), and SMP needs the content type."""
    doc = load(fname)
    n = 0
    for path, method, op, _ in operations(doc):
        if method != "patch":
            continue
        n += 1
        names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        assert "fieldValidation" in names, path
        assert PATCH_TYPES <= set(op["requestBody"]["content"]), path
    assert n > 0


# --------------------------------------------------------------------------- patch metadata


def test_merge_keys_core():
    f = "api__v1.json"
    c = prop(f, "io.k8s.api.core.v1.PodSpec", "containers")
    assert c["x-kubernetes-patch-merge-key"] == "name"
    assert c["x-kubernetes-patch-strategy"] == "merge"
    p = prop(f, "io.k8s.api.core.v1.ServiceSpec", "ports")
    assert p["x-kubernetes-patch-merge-key"] == "port"
    assert p["x-kubernetes-patch-strategy"] == "merge"
    assert p["x-kubernetes-list-type"] == "map"
    assert p["x-kubernetes-list-map-keys"] == ["port", "protocol"]
    e = prop(f, "io.k8s.api.core.v1.Container", "env")
    assert e["x-kubernetes-patch-merge-key"] == "name"
    assert e["x-kubernetes-patch-strategy"] == "merge"
    v = prop(f, "io.k8s.api.core.v1.PodSpec", "volumes")
    assert v["x-kubernetes-patch-merge-key"] == "name"
    assert v["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    for fname in SERVED:
        fin = prop(fname, META + "ObjectMeta", "finalizers")
        assert fin["x-kubernetes-patch-strategy"] == "merge", fname
        own = prop(fname, META + "ObjectMeta", "ownerReferences")
        assert own["x-kubernetes-patch-merge-key"] == "uid", fname


def test_merge_keys_apps_and_discovery():
    a = "apis__apps__v1.json"
    assert prop(a, "io.k8s.api.core.v1.PodSpec", "containers")["x-kubernetes-patch-merge-key"] == "name"
    assert prop(a, "io.k8s.api.apps.v1.DeploymentSpec", "strategy")["x-kubernetes-patch-strategy"] == "retainKeys"
    d = "apis__discovery.k8s.io__v1.json"
    eps = prop(d, "io.k8s.api.discovery.v1.EndpointSlice", "endpoints")
    assert eps["x-kubernetes-list-type"] == "atomic"
    assert "x-kubernetes-patch-merge-key" not in eps


def test_descriptions_for_explain():
    s = schemas("api__v1.json")
    spec = s["io.k8s.api.core.v1.ServiceSpec"]
    assert spec["description"]
    missing = [k for k, v in spec["properties"].items() if not v.get("description")]
    assert not missing, missing
    strat = schemas("apis__apps__v1.json")["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strat["description"] and strat["allOf"][0]["$ref"].endswith(".DeploymentStrategy")


# --------------------------------------------------------------------------- upstream comparison

REFERENCE_FILES = {f: f[:-len(".json")] + "_openapi.json" for f in SERVED}

# The reference documents may come from an older release than the 1.32 schemas
# kemu serves (the ones in shared/ match kube-apiserver 1.26 output).  Against
# such a reference only these differences are accepted; against a 1.32 (or later)
# reference the comparison is exact.
#  * kemu's schemas may have properties, and list/map annotations, added since;
#  * properties removed in later releases:
REMOVED_SINCE_REFERENCE = {
    ("io.k8s.api.core.v1.PodResourceClaim", "source"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "resizeStatus"),
}
#  * patch annotations that later releases dropped (they sat on a string field):
PATCH_META_DROPPED_SINCE_REFERENCE = {
    (META + "LabelSelectorRequirement", "key"),
}


def _reference_is_older():
    """True when the reference predates 1.32 (PodSpec.resources came in 1.32)."""
    for ref in REFERENCE_FILES.values():
        path = REFERENCE / ref
        if path.exists():
            spec = load(ref, REFERENCE)["components"]["schemas"].get("io.k8s.api.core.v1.PodSpec")
            if spec is not None:
                return "resources" not in spec.get("properties", {})
    return False


@pytest.mark.parametrize("fname", sorted(REFERENCE_FILES))
def test_schemas_match_upstream(fname):
    ref_name = REFERENCE_FILES[fname]
    if not (REFERENCE / ref_name).exists():
        pytest.skip("no upstream reference %s (looked in %s)" % (ref_name, REFERENCE))
    old = _reference_is_older()
    ours = schemas(fname)
    theirs = load(ref_name, REFERENCE)["components"]["schemas"]
    problems, tolerated = [], []
    for name, s in sorted(ours.items()):
        if name not in theirs:
            (tolerated if old else problems).append("schema %s not in reference" % name)
            continue
        u = theirs[name]
        for ext in EXTENSIONS:
            if s.get(ext) != u.get(ext):
                problems.append("%s: %s %r != reference %r" % (name, ext, s.get(ext), u.get(ext)))
        mine, ref = s.get("properties", {}), u.get("properties", {})
        for p in sorted(set(ref) - set(mine)):
            if old and (name, p) in REMOVED_SINCE_REFERENCE:
                tolerated.append("%s.%s removed since reference" % (name, p))
            else:
                problems.append("%s.%s missing (reference has it)" % (name, p))
        for p in sorted(set(mine) - set(ref)):
            (tolerated if old else problems).append("%s.%s not in reference" % (name, p))
        for p in sorted(set(mine) & set(ref)):
            for ext in EXTENSIONS:
                a, b = mine[p].get(ext), ref[p].get(ext)
                if a == b:
                    continue
                if old and b is None and ext in ("x-kubernetes-list-type",
                                                 "x-kubernetes-list-map-keys",
                                                 "x-kubernetes-map-type"):
                    tolerated.append("%s.%s %s=%r added since reference" % (name, p, ext, a))
                elif old and a is None and (name, p) in PATCH_META_DROPPED_SINCE_REFERENCE:
                    tolerated.append("%s.%s %s dropped since reference" % (name, p, ext))
                else:
                    problems.append("%s.%s: %s %r != reference %r" % (name, p, ext, a, b))
    if tolerated:
        print("%s: reference is an older release; %d differences accepted as version drift"
              % (fname, len(tolerated)))
    assert not problems, "\n".join(problems[:40])
