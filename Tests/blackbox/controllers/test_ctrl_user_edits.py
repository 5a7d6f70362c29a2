"""Reference §2.18: user edits of controller-managed EndpointSlices and the controller's
reaction, as upstream behaves (kemu started with --derived-writes allow, so that the client's
writes are accepted silently as upstream accepts them)."""

from scenlib import (ALLOW, HEADLESS, MANAGED_BY, MERGE, SERVICE_NAME, SLICE_CTRL, by_pod, endpoint_count, eps_of,
                     labels)

WEB_PORTS = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]


def setup_web(env, pods=2, name="web", **svc_kw):
    if not env.nodes:
        env.node("node-1")
    net = {"web": 1, "api": 2}.get(name, 3)
    for i in range(pods):
        env.pod(f"{name}-p{i}", labels={"app": name}, ip=f"10.0.{net}.{i + 1}")
    svc = env.create_service(name, selector={"app": name}, ports=WEB_PORTS, **svc_kw)
    [s] = env.wait_endpoint_count(name, pods)
    return svc, s


def write_ok(r, what):
    assert r.status_code in (200, 201), f"{what}: {r.status_code} {r.text[:1000]}"
    assert "Warning" not in r.headers, f"{what}: --derived-writes allow must not warn: {r.headers.get('Warning')}"
    return r.json() if r.text else None


def test_user_endpoint_edit_is_restored(make_env):
    """Adding a foreign endpoint and flipping a condition → resync restores the desired endpoints
    (one controller update)."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    desired = by_pod([s])
    body = dict(s)
    body["endpoints"] = [dict(e) for e in eps_of(s)]
    body["endpoints"][0] = dict(body["endpoints"][0], conditions={"ready": False, "serving": False,
                                                                 "terminating": False})
    body["endpoints"].append({"addresses": ["10.9.9.9"], "conditions": {"ready": True}})
    m = env.mark()
    mine = write_ok(env.slice_write("PUT", s["metadata"]["name"], body), "PUT managed slice")
    env.await_rv(mine["metadata"]["resourceVersion"])
    [s2] = env.wait_slices("web", lambda ss: endpoint_count(ss) == 2 and by_pod(ss) == desired, "restored")
    assert s2["metadata"]["name"] == s["metadata"]["name"]
    assert env.slice_writes(m, "web", after_rv=mine["metadata"]["resourceVersion"]) == {"MODIFIED": 1}


def test_user_label_is_reset(make_env):
    """A non-reserved label added by a client is removed again by the controller."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    m = env.mark()
    mine = write_ok(env.slice_write("PATCH", s["metadata"]["name"], {"metadata": {"labels": {"mine": "x"}}},
                                    content_type=MERGE), "label managed slice")
    env.await_rv(mine["metadata"]["resourceVersion"])
    env.wait_slices("web", lambda ss: len(ss) == 1 and "mine" not in labels(ss[0]), "label reset")
    assert env.slice_writes(m, "web", after_rv=mine["metadata"]["resourceVersion"]) == {"MODIFIED": 1}


def test_reserved_headless_label_is_not_compared(make_env):
    """Removing service.kubernetes.io/headless does not cause a rewrite (reserved labels are not
    compared); the label is corrected the next time the slice's endpoints are rewritten (§2.9 step 1
    recomputes the labels of a slice whose endpoints changed)."""
    env = make_env(*ALLOW)
    _, s = setup_web(env, headless=True)
    assert labels(s).get(HEADLESS) == ""
    m = env.mark()
    mine = write_ok(env.slice_write("PATCH", s["metadata"]["name"], {"metadata": {"labels": {HEADLESS: None}}},
                                    content_type=MERGE), "unlabel managed slice")
    env.settle()
    assert env.slice_writes(m, "web", after_rv=mine["metadata"]["resourceVersion"]) == {}
    [s2] = env.slices("web")
    assert HEADLESS not in labels(s2)
    # an existing endpoint changes → the slice is rewritten with freshly computed labels
    env.set_pod_status("web-p0", ip="10.0.1.1", ready=False)
    [s3] = env.wait_slices("web", lambda ss: len(ss) == 1 and not by_pod(ss)["web-p0"]["conditions"]["ready"],
                           "web-p0 not ready")
    assert labels(s3).get(HEADLESS) == "", labels(s3)


def test_annotation_only_edit_is_kept(make_env):
    """An annotation-only edit does not bump generation → no resync; the annotation survives
    later ordinary updates of that slice."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    m = env.mark()
    mine = write_ok(env.slice_write("PATCH", s["metadata"]["name"], {"metadata": {"annotations": {"note": "mine"}}},
                                    content_type=MERGE), "annotate managed slice")
    assert mine["metadata"].get("generation") == s["metadata"].get("generation"), \
        "annotation-only edits must not bump metadata.generation"
    env.settle()
    assert env.slice_writes(m, "web", after_rv=mine["metadata"]["resourceVersion"]) == {}
    env.pod("web-p9", labels={"app": "web"}, ip="10.0.99.9")
    [s2] = env.wait_endpoint_count("web", 3)
    assert s2["metadata"]["name"] == s["metadata"]["name"]
    assert (s2["metadata"].get("annotations") or {}).get("note") == "mine"


def test_generation_bumps_on_endpoint_and_label_changes(make_env):
    """§1.7: generation is 1 on create and increases with changes outside metadata or of labels."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    g = s["metadata"].get("generation")
    assert isinstance(g, int) and g >= 1
    r = write_ok(env.slice_write("PATCH", s["metadata"]["name"], {"metadata": {"labels": {"x": "y"}}},
                                 content_type=MERGE), "label")
    assert r["metadata"]["generation"] == g + 1
    created = write_ok(env.slice_write("POST", body={
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "custom"},
        "addressType": "IPv4", "endpoints": [], "ports": []}), "custom create")
    assert created["metadata"]["generation"] == 1


def test_deleted_slice_is_recreated(make_env):
    """Deleting a managed slice → the controller recreates one (1 create)."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    desired = by_pod([s])
    m = env.mark()
    write_ok(env.slice_write("DELETE", s["metadata"]["name"]), "delete managed slice")
    [s2] = env.wait_slices("web", lambda ss: len(ss) == 1 and by_pod(ss) == desired
                           and ss[0]["metadata"]["name"] != s["metadata"]["name"], "recreated")
    assert env.slice_writes(m, "web") == {"DELETED": 1, "ADDED": 1}


def test_managed_by_changed_slice_is_replaced_and_left_alone(make_env):
    """Changing managed-by to another value hides the slice from the controller: it writes a
    replacement and never touches the client's slice."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    desired = by_pod([s])
    m = env.mark()
    mine = write_ok(env.slice_write("PATCH", s["metadata"]["name"],
                                    {"metadata": {"labels": {MANAGED_BY: "someone-else.example.com"}}},
                                    content_type=MERGE), "relabel managed-by")
    env.await_rv(mine["metadata"]["resourceVersion"])
    [r] = env.wait_slices("web", lambda ss: len(ss) == 1 and by_pod(ss) == desired, "replacement slice")
    assert r["metadata"]["name"] != s["metadata"]["name"]
    assert env.slice_writes(m, "web") == {"ADDED": 1}
    env.settle()
    theirs = [x for x in env.slices("web", managed="someone-else.example.com")]
    assert [x["metadata"]["resourceVersion"] for x in theirs] == [mine["metadata"]["resourceVersion"]]
    assert env.slice_writes(m, "web", managed="someone-else.example.com",
                            after_rv=mine["metadata"]["resourceVersion"]) == {}


def test_service_name_changed_slice_is_deleted_by_other_service(make_env):
    """Relabelling a slice of `web` to service-name=api: api's sync deletes it (not owned by api),
    web's sync writes a replacement; api's own slice is untouched."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    _, a = setup_web(env, name="api", pods=1)
    m = env.mark()
    mine = write_ok(env.slice_write("PATCH", s["metadata"]["name"], {"metadata": {"labels": {SERVICE_NAME: "api"}}},
                                    content_type=MERGE), "relabel service-name")
    env.await_rv(mine["metadata"]["resourceVersion"])
    env.wait_slices("web", lambda ss: len(ss) == 1 and endpoint_count(ss) == 2, "web replacement")
    env.wait_slices("api", lambda ss: [x["metadata"]["name"] for x in ss] == [a["metadata"]["name"]],
                    "relabelled slice deleted")
    w_api = env.slice_writes(m, "api", after_rv=mine["metadata"]["resourceVersion"])
    assert w_api == {"DELETED": 1}, w_api
    assert env.slice_writes(m, "web") == {"ADDED": 1}


def test_foreign_slice_with_controller_labels_is_deleted(make_env):
    """A client-created slice carrying both controller labels but no ownerReference to the Service
    is deleted by the next sync (only owned slices are kept)."""
    env = make_env(*ALLOW)
    _, s = setup_web(env)
    m = env.mark()
    mine = write_ok(env.slice_write("POST", body={
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-forged", "labels": {SERVICE_NAME: "web", MANAGED_BY: SLICE_CTRL}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.9.9.9"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}), "create forged slice")
    env.await_rv(mine["metadata"]["resourceVersion"])
    [s2] = env.wait_slices("web", lambda ss: [x["metadata"]["name"] for x in ss] == [s["metadata"]["name"]],
                           "forged slice deleted")
    assert s2["metadata"]["resourceVersion"] == s["metadata"]["resourceVersion"]
    assert env.slice_writes(m, "web", after_rv=mine["metadata"]["resourceVersion"]) == {"DELETED": 1}
