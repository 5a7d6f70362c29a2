"""Reference §4: the EndpointSlice mirroring controller (user Endpoints of selectorless Services
become EndpointSlices managed by endpointslicemirroring-controller.k8s.io)."""

from scenlib import (MANAGED_BY, MERGE, MIRROR2, MIRROR_CTRL, SERVICE_NAME, SKIP_MIRROR, TRIGGER, annotations,
                     eps_of, labels, ports_of)

EP_PATH = "/api/v1/namespaces/{ns}/endpoints"


def ext_service(env, name="ext"):
    return env.create_service(name, ports=[{"name": "http", "port": 80, "targetPort": 8080}])


def endpoints_obj(name="ext", subsets=None, labels=None, annotations=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": md,
            "subsets": subsets if subsets is not None else [
                {"addresses": [{"ip": "10.1.0.1"}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}


def put_endpoints(env, obj):
    cur = env.api.get(env.path(EP_PATH, obj["metadata"]["name"]))
    if cur.status_code == 404:
        return env.api.create(env.path(EP_PATH), obj)
    body = dict(obj)
    body["metadata"] = dict(obj["metadata"], resourceVersion=cur.json()["metadata"]["resourceVersion"])
    r = env.api.put(env.path(EP_PATH, obj["metadata"]["name"]), body)
    assert r.status_code == 200, r.text
    return r.json()


def mirrored(env, name="ext", **kw):
    return env.slices(name, managed=MIRROR_CTRL, **kw)


def wait_mirrored(env, pred, what, name="ext", **kw):
    return env.wait_slices(name, pred, what, managed=MIRROR_CTRL, **kw)


def test_mirrored_slice_shape(env):
    """§4: ownerReference to the Endpoints, labels copied + service-name + managed-by, annotations
    copied except trigger-time and last-applied, ready from addresses/notReadyAddresses (serving
    and terminating unset), nodeName/hostname/targetRef copied, ports converted 1:1."""
    ext_service(env)
    m = env.mark()
    ep = env.api.create(env.path(EP_PATH), endpoints_obj(
        labels={"team": "a"},
        annotations={"note": "x", TRIGGER: "2030-01-01T00:00:00Z",
                     "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        subsets=[{"addresses": [{"ip": "10.1.0.1", "nodeName": "node-a", "hostname": "h1",
                                 "targetRef": {"kind": "Pod", "namespace": env.ns, "name": "pod-a",
                                               "uid": "11111111-2222-3333-4444-555555555555"}}],
                  "notReadyAddresses": [{"ip": "10.1.0.2"}],
                  "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]}]))
    [s] = wait_mirrored(env, lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 2, "mirrored slice")
    assert s["metadata"]["name"].startswith("ext-") and s["metadata"].get("generateName") == "ext-", s["metadata"]
    assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Endpoints", "name": "ext",
                                                 "uid": ep["metadata"]["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]
    assert labels(s) == {"team": "a", SERVICE_NAME: "ext", MANAGED_BY: MIRROR_CTRL}
    assert annotations(s) == {"note": "x"}
    assert s["addressType"] == "IPv4"
    assert ports_of(s) == {("http", 8080, "TCP", "http")}
    eps = {e["addresses"][0]: e for e in eps_of(s)}
    assert eps["10.1.0.1"] == {"addresses": ["10.1.0.1"], "conditions": {"ready": True}, "nodeName": "node-a",
                               "hostname": "h1",
                               "targetRef": {"kind": "Pod", "namespace": env.ns, "name": "pod-a",
                                             "uid": "11111111-2222-3333-4444-555555555555"}}
    assert eps["10.1.0.2"] == {"addresses": ["10.1.0.2"], "conditions": {"ready": False}}
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"ADDED": 1}


def test_skip_mirror_label(env):
    """§4: skip-mirror "true" → no slices (and mirrored ones are deleted when it is added);
    any other value still mirrors."""
    ext_service(env)
    ext_service(env, "ext2")
    env.api.create(env.path(EP_PATH), endpoints_obj("ext", labels={SKIP_MIRROR: "true"}))
    env.api.create(env.path(EP_PATH), endpoints_obj("ext2", labels={SKIP_MIRROR: "false"}))
    wait_mirrored(env, lambda ss: len(ss) == 1, "ext2 mirrored", name="ext2")
    env.settle()
    assert mirrored(env) == []
    r = env.api.patch(env.path(EP_PATH, "ext2"), {"metadata": {"labels": {SKIP_MIRROR: "true"}}},
                      content_type=MERGE)
    assert r.status_code == 200, r.text
    wait_mirrored(env, lambda ss: ss == [], "ext2 mirror removed", name="ext2")


def test_no_mirroring_for_selector_services(env):
    """§4: the Endpoints of a Service with a selector are not mirrored (the EndpointSlice
    controller serves that Service)."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    env.wait_endpoints("web", lambda e: e is not None and e.get("subsets"))
    env.wait_endpoint_count("web", 1)
    env.settle()
    assert env.slices("web", managed=MIRROR_CTRL) == []


def test_endpoints_before_service_and_service_deletion(env):
    """§4: Endpoints without a Service are not mirrored; creating the selectorless Service mirrors
    them; deleting the Service removes the mirrored slices (and the Endpoints controller deletes
    the Endpoints of the deleted Service, §3.2)."""
    env.api.create(env.path(EP_PATH), endpoints_obj())
    env.settle()
    assert mirrored(env) == []
    m = env.mark()
    ext_service(env)
    wait_mirrored(env, lambda ss: len(ss) == 1, "mirrored after Service creation")
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"ADDED": 1}
    m = env.mark()
    r = env.api.delete(env.path("/api/v1/namespaces/{ns}/services", "ext"))
    assert r.status_code == 200, r.text
    wait_mirrored(env, lambda ss: ss == [], "mirrored slice removed", timeout=30)
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"DELETED": 1}
    env.wait_endpoints("ext", lambda e: e is None, "Endpoints of the deleted Service deleted", timeout=30)


def test_empty_endpoints_have_no_slices(env):
    """§4: no placeholder: Endpoints without addresses → zero slices; emptying mirrored Endpoints
    deletes their slices."""
    ext_service(env)
    ext_service(env, "empty")
    env.api.create(env.path(EP_PATH), endpoints_obj("empty", subsets=[]))
    env.api.create(env.path(EP_PATH), endpoints_obj("ext"))
    wait_mirrored(env, lambda ss: len(ss) == 1, "ext mirrored")
    env.settle()
    assert mirrored(env, "empty") == []
    m = env.mark()
    put_endpoints(env, endpoints_obj("ext", subsets=[]))
    wait_mirrored(env, lambda ss: ss == [], "ext mirror removed")
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"DELETED": 1}


def test_one_slice_per_address_family(env):
    """§4: IPv4 and IPv6 addresses of one subset → one slice per family."""
    ext_service(env)
    env.api.create(env.path(EP_PATH), endpoints_obj(subsets=[
        {"addresses": [{"ip": "10.1.0.1"}, {"ip": "fd00::1"}, {"ip": "10.1.0.2"}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]))
    ss = wait_mirrored(env, lambda ss: len(ss) == 2, "two slices")
    got = {s["addressType"]: sorted(e["addresses"][0] for e in eps_of(s)) for s in ss}
    assert got == {"IPv4": ["10.1.0.1", "10.1.0.2"], "IPv6": ["fd00::1"]}


def test_one_slice_per_port_set_and_in_place_updates(env):
    """§4: one slice per (port set, family); when one subset goes away its slice is deleted, and a
    changed subset rewrites its slice in place (same name): 1 update + 1 delete."""
    ext_service(env)
    a = {"addresses": [{"ip": "10.1.0.1"}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    b = {"addresses": [{"ip": "10.1.0.2"}], "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}
    env.api.create(env.path(EP_PATH), endpoints_obj(subsets=[a, b]))
    ss = wait_mirrored(env, lambda ss: len(ss) == 2, "two slices")
    http = [s for s in ss if ports_of(s) == {("http", 8080, "TCP", None)}][0]
    m = env.mark()
    a2 = dict(a, addresses=[{"ip": "10.1.0.1"}, {"ip": "10.1.0.3"}])
    put_endpoints(env, endpoints_obj(subsets=[a2]))
    [s] = wait_mirrored(env, lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 2, "http slice updated")
    assert s["metadata"]["name"] == http["metadata"]["name"]
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"MODIFIED": 1, "DELETED": 1}


def test_label_and_annotation_changes_are_mirrored(env):
    """§4: Endpoints label/annotation changes → the mirrored slice is rewritten in place."""
    ext_service(env)
    env.api.create(env.path(EP_PATH), endpoints_obj(labels={"team": "a"}))
    [s] = wait_mirrored(env, lambda ss: len(ss) == 1, "mirrored")
    m = env.mark()
    r = env.api.patch(env.path(EP_PATH, "ext"), {"metadata": {"labels": {"team": "b"},
                                                              "annotations": {"note": "n"}}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    [s2] = wait_mirrored(env, lambda ss: len(ss) == 1 and labels(ss[0]).get("team") == "b"
                         and annotations(ss[0]).get("note") == "n", "labels/annotations mirrored")
    assert s2["metadata"]["name"] == s["metadata"]["name"]
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"MODIFIED": 1}


def test_max_endpoints_per_subset(make_env):
    """§4: --mirroring-max-endpoints-per-subset 2 → at most 2 addresses of a subset are mirrored,
    ready ones first."""
    env = make_env(*MIRROR2)
    ext_service(env)
    env.api.create(env.path(EP_PATH), endpoints_obj(subsets=[
        {"notReadyAddresses": [{"ip": "10.1.0.8"}, {"ip": "10.1.0.9"}],
         "addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]))
    [s] = wait_mirrored(env, lambda ss: len(ss) == 1 and eps_of(ss[0]), "mirrored")
    assert len(eps_of(s)) == 2
    assert all(e["conditions"]["ready"] is True for e in eps_of(s))
    assert {e["addresses"][0] for e in eps_of(s)} <= {"10.1.0.1", "10.1.0.2", "10.1.0.3"}


def test_service_gains_selector(env):
    """§4: when the Service gets a selector, mirrored slices are deleted and the EndpointSlice
    controller takes over (and the Endpoints controller rewrites the Endpoints)."""
    env.node("node-1")
    env.pod("p1", labels={"app": "ext"}, ip="10.0.0.7")
    ext_service(env)
    env.api.create(env.path(EP_PATH), endpoints_obj())
    wait_mirrored(env, lambda ss: len(ss) == 1, "mirrored")
    env.patch_service("ext", {"spec": {"selector": {"app": "ext"}}})
    wait_mirrored(env, lambda ss: ss == [], "mirrored slice removed")
    [s] = env.wait_endpoint_count("ext", 1)
    assert eps_of(s)[0]["addresses"] == ["10.0.0.7"]
    env.wait_endpoints("ext", lambda e: e is not None and [a["ip"] for x in e.get("subsets") or []
                                                           for a in x.get("addresses") or []] == ["10.0.0.7"],
                       "Endpoints rewritten from the pods")


def test_endpoints_deleted(env):
    """§4: deleting mirrored Endpoints deletes their slices."""
    ext_service(env)
    env.api.create(env.path(EP_PATH), endpoints_obj())
    wait_mirrored(env, lambda ss: len(ss) == 1, "mirrored")
    m = env.mark()
    r = env.api.delete(env.path(EP_PATH, "ext"))
    assert r.status_code == 200, r.text
    wait_mirrored(env, lambda ss: ss == [], "mirror removed", timeout=30)
    assert env.slice_writes(m, "ext", managed=MIRROR_CTRL) == {"DELETED": 1}
