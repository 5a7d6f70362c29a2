"""Create / read / update / delete semantics, defaulting, subresources, GC."""

import ipaddress
import re
import uuid

import pytest

from helpers import (CONFLICT_MSG, MERGE, WatchStream, assert_status, deployment, endpoints,
                     endpointslice, pod, rv_int, service, unique, wait_for)

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NAME_SUFFIX = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{5}$")


# --- initial state ----------------------------------------------------------

def test_initial_namespaces(api):
    body = api.read("/api/v1/namespaces")
    assert body["kind"] == "NamespaceList"
    names = {n["metadata"]["name"]: n for n in body["items"]}
    for n in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert n in names, f"namespace {n} missing: {sorted(names)}"
        assert names[n]["status"]["phase"] == "Active"


def test_initial_kubernetes_service(api):
    svc = api.read("/api/v1/namespaces/default/services/kubernetes")
    assert svc["metadata"]["name"] == "kubernetes"
    assert svc["metadata"]["namespace"] == "default"
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    ipaddress.IPv4Address(spec["clusterIP"])
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert len(spec["ports"]) == 1
    p = spec["ports"][0]
    assert p["name"] == "https" and p["port"] == 443 and p["protocol"] == "TCP", p


# --- create -----------------------------------------------------------------

def test_create_sets_server_fields(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod("p1", labels={"app": "web"}))
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["kind"] == "Pod" and obj["apiVersion"] == "v1"
    md = obj["metadata"]
    assert md["name"] == "p1"
    assert md["namespace"] == ns, "namespace must be filled from the URL"
    uuid.UUID(md["uid"])
    assert RFC3339_Z.match(md["creationTimestamp"]), md["creationTimestamp"]
    assert re.match(r"^\d+$", md["resourceVersion"]), md["resourceVersion"]
    assert md["labels"] == {"app": "web"}
    got = api.read(f"/api/v1/namespaces/{ns}/pods/p1")
    assert got["metadata"]["uid"] == md["uid"]
    assert got["metadata"]["resourceVersion"] == md["resourceVersion"]
    assert got["kind"] == "Pod" and got["apiVersion"] == "v1"
    assert got["spec"]["containers"][0]["name"] == "app"


def test_create_deployment_generation_and_defaults(api, ns):
    d = api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", replicas=2))
    assert d["kind"] == "Deployment" and d["apiVersion"] == "apps/v1"
    assert d["metadata"]["generation"] == 1
    assert d["spec"]["replicas"] == 2
    assert d["spec"]["strategy"]["type"] == "RollingUpdate"
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600


def test_resource_versions_increase_across_kinds(api, ns):
    a = api.create(f"/api/v1/namespaces/{ns}/pods", pod("a"))
    b = api.create(f"/api/v1/namespaces/{ns}/services", service("b"))
    c = api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("c"))
    assert rv_int(a) < rv_int(b) < rv_int(c)


def test_generate_name(api, ns):
    body = pod("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"
    names = set()
    for _ in range(3):
        obj = api.create(f"/api/v1/namespaces/{ns}/pods", body)
        name = obj["metadata"]["name"]
        assert name.startswith("web-")
        assert NAME_SUFFIX.match(name[len("web-"):]), name
        assert obj["metadata"]["generateName"] == "web-"
        names.add(name)
    assert len(names) == 3


def test_create_without_name_or_generate_name_is_422(api, ns):
    body = pod("x")
    del body["metadata"]["name"]
    r = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    st = assert_status(r, 422, "Invalid",
                       message='Pod "" is invalid: metadata.name: Required value: name or generateName is required')
    causes = st["details"]["causes"]
    assert causes == [{"reason": "FieldValueRequired", "message": "Required value: name or generateName is required",
                       "field": "metadata.name"}]


def test_create_already_exists(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("dup"))
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("dup"))
    st = assert_status(r, 409, "AlreadyExists", message='services "dup" already exists')
    assert st["details"]["name"] == "dup"
    assert st["details"]["kind"] == "services"


def test_create_dry_run_does_not_persist(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod("dry"), params={"dryRun": "All"})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["name"] == "dry"
    assert_status(api.get(f"/api/v1/namespaces/{ns}/pods/dry"), 404, "NotFound")
    assert api.read(f"/api/v1/namespaces/{ns}/pods")["items"] == []


def test_create_body_namespace_mismatch_is_400(api, ns):
    body = pod("mm")
    body["metadata"]["namespace"] = "kube-system"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    assert_status(r, 400, "BadRequest",
                  message="the namespace of the provided object does not match the namespace sent on the request")


def test_create_in_missing_namespace_is_404(api):
    r = api.post("/api/v1/namespaces/no-such-ns/pods", pod("p"))
    st = assert_status(r, 404, "NotFound", message='namespaces "no-such-ns" not found')
    assert st["details"]["name"] == "no-such-ns"
    assert st["details"]["kind"] == "namespaces"


def test_list_in_missing_namespace_is_empty(api):
    body = api.read("/api/v1/namespaces/no-such-ns/pods")
    assert body["kind"] == "PodList"
    assert body["items"] == []


def test_cluster_scoped_node_crud(api):
    name = unique("node")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"zone": "a"}}}
    obj = api.create("/api/v1/nodes", node)
    assert "namespace" not in obj["metadata"] or obj["metadata"]["namespace"] == ""
    assert api.read(f"/api/v1/nodes/{name}")["metadata"]["labels"] == {"zone": "a"}
    r = api.delete(f"/api/v1/nodes/{name}")
    assert r.status_code == 200
    assert_status(api.get(f"/api/v1/nodes/{name}"), 404, "NotFound", message=f'nodes "{name}" not found')


def test_namespaced_path_for_cluster_scoped_kind_is_404(api):
    r = api.get("/api/v1/namespaces/default/nodes")
    assert_status(r, 404, "NotFound")


# --- update -----------------------------------------------------------------

def test_put_updates_and_preserves_identity(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("web", selector={"app": "web"}))
    body = dict(created)
    body["metadata"] = dict(created["metadata"], labels={"tier": "fe"})
    r = api.put(f"/api/v1/namespaces/{ns}/services/web", body)
    assert r.status_code == 200, r.text
    upd = r.json()
    assert upd["metadata"]["labels"] == {"tier": "fe"}
    assert upd["metadata"]["uid"] == created["metadata"]["uid"]
    assert upd["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert rv_int(upd) > rv_int(created)
    assert upd["spec"]["clusterIP"] == created["spec"]["clusterIP"]


def test_put_stale_resource_version_conflict(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/pods", pod("web"))
    body = dict(created, metadata=dict(created["metadata"], labels={"v": "1"}))
    assert api.put(f"/api/v1/namespaces/{ns}/pods/web", body).status_code == 200
    body2 = dict(created, metadata=dict(created["metadata"], labels={"v": "2"}))  # stale RV
    r = api.put(f"/api/v1/namespaces/{ns}/pods/web", body2)
    st = assert_status(r, 409, "Conflict", message=CONFLICT_MSG.format(res="pods", name="web"))
    assert st["details"]["name"] == "web" and st["details"]["kind"] == "pods"
    assert api.read(f"/api/v1/namespaces/{ns}/pods/web")["metadata"]["labels"] == {"v": "1"}


def test_put_stale_resource_version_conflict_apps_group(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web"))
    # The deployment controller writes status meanwhile, so read-modify-write retries on conflict, as clients do.
    for _ in range(20):
        cur = api.read(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
        body = dict(cur, metadata=dict(cur["metadata"], labels={"v": "1"}))
        ok = api.put(f"/apis/apps/v1/namespaces/{ns}/deployments/web", body)
        if ok.status_code != 409:
            break
    assert ok.status_code == 200, ok.text
    r = api.put(f"/apis/apps/v1/namespaces/{ns}/deployments/web", body)
    st = assert_status(r, 409, "Conflict", message=CONFLICT_MSG.format(res="deployments.apps", name="web"))
    assert st["details"]["group"] == "apps"


def test_put_without_resource_version_is_unconditional(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("ep"))
    body = endpoints("ep", ips=("10.1.0.9",))
    r = api.put(f"/api/v1/namespaces/{ns}/endpoints/ep", body)
    assert r.status_code == 200, r.text
    assert r.json()["subsets"][0]["addresses"] == [{"ip": "10.1.0.9"}]
    assert r.json()["metadata"]["uid"] == created["metadata"]["uid"]


def test_noop_put_keeps_resource_version_and_sends_no_event(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("same"))
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/services",
                    {"watch": "true", "resourceVersion": created["metadata"]["resourceVersion"]})
    try:
        r = api.put(f"/api/v1/namespaces/{ns}/services/same", created)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        # a real change afterwards is the first event the watcher sees
        api.patch(f"/api/v1/namespaces/{ns}/services/same", {"metadata": {"labels": {"x": "y"}}},
                  content_type=MERGE)
        ev = w.next(timeout=10)
        assert ev is not None and ev["type"] == "MODIFIED", ev
        assert ev["object"]["metadata"]["labels"] == {"x": "y"}
    finally:
        w.close()


def test_put_missing_object_is_404(api, ns):
    r = api.put(f"/api/v1/namespaces/{ns}/pods/ghost", pod("ghost"))
    assert_status(r, 404, "NotFound", message='pods "ghost" not found')


def test_generation_bumps_on_spec_change_only(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("gen"))
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/gen"
    d2 = api.patch(path, {"metadata": {"annotations": {"a": "b"}}}, content_type=MERGE).json()
    assert d2["metadata"]["generation"] == 1
    d3 = api.patch(path, {"spec": {"replicas": 5}}, content_type=MERGE).json()
    assert d3["metadata"]["generation"] == 2
    assert d3["spec"]["replicas"] == 5


# --- status subresource -----------------------------------------------------

def test_status_subresource_isolation(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("st", node="node-1"))
    path = f"/api/v1/namespaces/{ns}/pods/st"
    cur = api.read(path + "/status")
    assert cur["kind"] == "Pod" and cur["metadata"]["name"] == "st"
    # a /status write changes status only
    cur["status"] = {"phase": "Running", "podIP": "10.244.0.7", "podIPs": [{"ip": "10.244.0.7"}]}
    cur["spec"]["containers"][0]["image"] = "changed:by-status"
    r = api.put(path + "/status", cur)
    assert r.status_code == 200, r.text
    got = api.read(path)
    assert got["status"]["phase"] == "Running"
    assert got["status"]["podIP"] == "10.244.0.7"
    assert got["spec"]["containers"][0]["image"] == "nginx:1.27"
    # a main-resource write ignores status
    got["status"] = {"phase": "Failed"}
    got["metadata"]["labels"] = {"l": "1"}
    r = api.put(path, got)
    assert r.status_code == 200, r.text
    after = api.read(path)
    assert after["metadata"]["labels"] == {"l": "1"}
    assert after["status"]["phase"] == "Running"


def test_deployment_status_patch_does_not_bump_generation(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("dst"))
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/dst"
    r = api.patch(path + "/status", {"status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1}},
                  content_type=MERGE)
    assert r.status_code == 200, r.text
    # The reply shows the written status (the deployment controller rewrites it right after).
    assert r.json()["status"]["readyReplicas"] == 1
    assert r.json()["metadata"]["generation"] == 1
    assert api.read(path)["metadata"]["generation"] == 1


# --- services ---------------------------------------------------------------

def test_service_defaults(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services",
                     service("web", ports=[{"name": "http", "port": 80}], selector={"app": "web"}))
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    ip = ipaddress.IPv4Address(spec["clusterIP"])
    kube = api.read("/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"]
    assert str(ip) != kube
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    p = spec["ports"][0]
    assert p == {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}


def test_service_cluster_ips_are_unique(api, ns):
    ips = set()
    for i in range(5):
        ips.add(api.create(f"/api/v1/namespaces/{ns}/services", service(f"s{i}"))["spec"]["clusterIP"])
    assert len(ips) == 5


def test_headless_service_keeps_none(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services", service("hl", clusterIP="None"))
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["clusterIPs"] == ["None"]


def test_service_named_target_port_kept(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services",
                     service("tp", ports=[{"port": 80, "targetPort": "http", "protocol": "UDP"}]))
    assert svc["spec"]["ports"][0] == {"port": 80, "targetPort": "http", "protocol": "UDP"}


# --- validation -------------------------------------------------------------

def test_invalid_name(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod("Bad_Name"))
    st = assert_status(r, 422, "Invalid", message_prefix=(
        'Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character"))
    assert st["details"]["name"] == "Bad_Name"
    assert st["details"]["kind"] == "Pod"
    assert [c["field"] for c in st["details"]["causes"]] == ["metadata.name"]
    assert st["details"]["causes"][0]["reason"] == "FieldValueInvalid"


def test_invalid_label_value(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", labels={"app": "bad value!"}))
    st = assert_status(r, 422, "Invalid", message_prefix=(
        'Pod "p" is invalid: metadata.labels: Invalid value: "bad value!": a valid label must be an empty string '
        "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character"))
    assert st["details"]["causes"][0]["field"] == "metadata.labels"


def test_invalid_label_key(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", pod("p", labels={"bad key!": "x"}))
    st = assert_status(r, 422, "Invalid", message_prefix='Pod "p" is invalid: metadata.labels: Invalid value: "bad key!"')
    assert st["details"]["causes"][0]["field"] == "metadata.labels"


def test_invalid_annotation_key(api, ns):
    body = pod("p")
    body["metadata"]["annotations"] = {"no spaces allowed": "x"}
    r = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    st = assert_status(r, 422, "Invalid",
                       message_prefix='Pod "p" is invalid: metadata.annotations: Invalid value: "no spaces allowed"')
    assert st["details"]["causes"][0]["field"] == "metadata.annotations"


def test_service_without_ports_is_invalid(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("np", ports=[]))
    st = assert_status(r, 422, "Invalid", message='Service "np" is invalid: spec.ports: Required value')
    assert st["details"]["causes"] == [{"reason": "FieldValueRequired", "message": "Required value",
                                        "field": "spec.ports"}]


def test_endpointslice_address_type_immutable(api, ns):
    es = api.create(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", endpointslice("es"))
    assert es["addressType"] == "IPv4"
    es["addressType"] = "IPv6"
    es["endpoints"] = [{"addresses": ["fd00::5"]}]
    r = api.put(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/es", es)
    st = assert_status(r, 422, "Invalid", message=(
        'EndpointSlice.discovery.k8s.io "es" is invalid: addressType: Invalid value: "IPv6": field is immutable'))
    assert st["details"]["group"] == "discovery.k8s.io"
    assert st["details"]["kind"] == "EndpointSlice"


def test_endpointslice_bad_address(api, ns):
    r = api.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                 endpointslice("bad", addresses=("not-an-ip",)))
    st = assert_status(r, 422, "Invalid", message_prefix=(
        'EndpointSlice.discovery.k8s.io "bad" is invalid: endpoints[0].addresses[0]: Invalid value: "not-an-ip": '
        "must be a valid IPv4 address"))
    assert st["details"]["causes"][0]["field"] == "endpoints[0].addresses[0]"


def test_endpointslice_ipv6_address_in_ipv4_slice(api, ns):
    r = api.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                 endpointslice("mixed", addresses=("fd00::1",)))
    assert_status(r, 422, "Invalid", message_contains='endpoints[0].addresses[0]: Invalid value: "fd00::1"')


def test_endpointslice_too_many_endpoints(api, ns):
    addrs = [f"10.{i // 250}.{i % 250}.1" for i in range(1001)]
    r = api.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", endpointslice("big", addresses=addrs))
    st = assert_status(r, 422, "Invalid", message=(
        'EndpointSlice.discovery.k8s.io "big" is invalid: endpoints: Too many: 1001: must have at most 1000 items'))
    assert st["details"]["causes"][0]["reason"] == "FieldValueTooMany"
    ok = api.post(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
                  endpointslice("max", addresses=addrs[:1000]))
    assert ok.status_code == 201, ok.text[:500]
    assert len(ok.json()["endpoints"]) == 1000


def test_endpointslice_ipv6_and_defaults(api, ns):
    es = api.create(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "v6"},
        "addressType": "IPv6", "endpoints": [{"addresses": ["fd00::5"]}], "ports": [{"port": 8080}]})
    assert es["addressType"] == "IPv6"
    assert es["ports"][0]["protocol"] == "TCP"
    assert es["metadata"]["generation"] == 1


# --- delete -----------------------------------------------------------------

def test_delete_pod_returns_object(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/pods", pod("del"))
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/del", params={"gracePeriodSeconds": "0"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "Pod"
    assert body["metadata"]["uid"] == created["metadata"]["uid"]
    assert_status(api.get(f"/api/v1/namespaces/{ns}/pods/del"), 404, "NotFound", message='pods "del" not found')


def test_delete_service_returns_object(api, ns):
    # services set ReturnDeletedObject upstream: the reply is the Service itself
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("del"))
    r = api.delete(f"/api/v1/namespaces/{ns}/services/del", {"propagationPolicy": "Background"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "Service"
    assert body["metadata"]["uid"] == created["metadata"]["uid"]
    assert_status(api.get(f"/api/v1/namespaces/{ns}/services/del"), 404, "NotFound")


def test_delete_endpoints_returns_success_status(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("del"))
    r = api.delete(f"/api/v1/namespaces/{ns}/endpoints/del", {"propagationPolicy": "Background"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["status"] == "Success"
    assert body["details"]["name"] == "del"
    assert body["details"]["kind"] == "endpoints"
    assert body["details"]["uid"] == created["metadata"]["uid"]
    assert_status(api.get(f"/api/v1/namespaces/{ns}/endpoints/del"), 404, "NotFound")


def test_delete_missing_is_404(api, ns):
    r = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/nope")
    st = assert_status(r, 404, "NotFound", message='deployments.apps "nope" not found')
    assert st["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_delete_precondition_uid_mismatch(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("pre"))
    r = api.delete(f"/api/v1/namespaces/{ns}/services/pre",
                   {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    assert_status(r, 409, "Conflict", message_prefix='Operation cannot be fulfilled on services "pre": ')
    assert api.get(f"/api/v1/namespaces/{ns}/services/pre").status_code == 200


def test_delete_precondition_resource_version_mismatch(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("prv"))
    api.patch(f"/api/v1/namespaces/{ns}/services/prv", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    r = api.delete(f"/api/v1/namespaces/{ns}/services/prv",
                   {"preconditions": {"resourceVersion": created["metadata"]["resourceVersion"]}})
    assert_status(r, 409, "Conflict", message_prefix='Operation cannot be fulfilled on services "prv": ')
    # matching preconditions delete it
    cur = api.read(f"/api/v1/namespaces/{ns}/services/prv")
    r = api.delete(f"/api/v1/namespaces/{ns}/services/prv",
                   {"preconditions": {"uid": cur["metadata"]["uid"],
                                      "resourceVersion": cur["metadata"]["resourceVersion"]}})
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/namespaces/{ns}/services/prv").status_code == 404


def test_delete_dry_run_keeps_object(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("keep"))
    r = api.delete(f"/api/v1/namespaces/{ns}/services/keep", params={"dryRun": "All"})
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/namespaces/{ns}/services/keep").status_code == 200


def test_finalizers_hold_deletion(api, ns):
    body = service("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    created = api.create(f"/api/v1/namespaces/{ns}/services", body)
    path = f"/api/v1/namespaces/{ns}/services/fin"
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/services",
                    {"watch": "true", "resourceVersion": created["metadata"]["resourceVersion"]})
    try:
        r = api.delete(path)
        assert r.status_code in (200, 202), r.text
        still = api.read(path)
        assert still["metadata"].get("deletionTimestamp"), still["metadata"]
        assert RFC3339_Z.match(still["metadata"]["deletionTimestamp"])
        assert still["metadata"]["finalizers"] == ["example.com/hold"]
        ev = w.next(timeout=10)
        assert ev and ev["type"] == "MODIFIED" and ev["object"]["metadata"].get("deletionTimestamp"), ev
        # new finalizers may not be added while deleting, but removing them completes the deletion
        r = api.patch(path, {"metadata": {"finalizers": None}}, content_type=MERGE)
        assert r.status_code == 200, r.text
        assert_status(api.get(path), 404, "NotFound")
        ev = w.next(timeout=10)
        assert ev and ev["type"] == "DELETED", ev
        assert ev["object"]["metadata"]["name"] == "fin"
    finally:
        w.close()


def test_delete_namespace_deletes_contents(api):
    name = unique("nsdel")
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    api.create(f"/api/v1/namespaces/{name}/pods", pod("p"))
    api.create(f"/api/v1/namespaces/{name}/services", service("s"))
    api.create(f"/apis/apps/v1/namespaces/{name}/deployments", deployment("d"))
    api.create(f"/apis/discovery.k8s.io/v1/namespaces/{name}/endpointslices", endpointslice("e"))
    r = api.delete(f"/api/v1/namespaces/{name}")
    assert r.status_code in (200, 202), r.text
    wait_for(lambda: api.get(f"/api/v1/namespaces/{name}").status_code == 404, timeout=15,
             what="namespace to disappear")
    for path in (f"/api/v1/namespaces/{name}/pods", f"/api/v1/namespaces/{name}/services",
                 f"/apis/apps/v1/namespaces/{name}/deployments",
                 f"/apis/discovery.k8s.io/v1/namespaces/{name}/endpointslices"):
        assert api.read(path)["items"] == [], path


def test_create_in_terminating_namespace_is_forbidden(api):
    name = unique("nsterm")
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    hold = pod("hold")
    hold["metadata"]["finalizers"] = ["example.com/hold"]
    api.create(f"/api/v1/namespaces/{name}/pods", hold)
    api.delete(f"/api/v1/namespaces/{name}")
    ns_obj = api.read(f"/api/v1/namespaces/{name}")
    assert ns_obj["status"]["phase"] == "Terminating"
    assert ns_obj["metadata"].get("deletionTimestamp")
    r = api.post(f"/api/v1/namespaces/{name}/pods", pod("late"))
    assert_status(r, 403, "Forbidden", message_prefix=f'pods "late" is forbidden: unable to create new content '
                                                           f'in namespace {name} because it is being terminated')
    # releasing the finalizer lets the namespace finish
    api.patch(f"/api/v1/namespaces/{name}/pods/hold", {"metadata": {"finalizers": None}}, content_type=MERGE)
    wait_for(lambda: api.get(f"/api/v1/namespaces/{name}").status_code == 404, timeout=15,
             what="namespace to disappear")


def test_owner_references_cascade(api, ns):
    owner = api.create(f"/apis/apps/v1/namespaces/{ns}/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "gc"}},
                 "template": {"metadata": {"labels": {"app": "gc"}},
                              "spec": {"containers": [{"name": "a", "image": "x"}]}}}})
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    # The pods match the ReplicaSet's selector and count, so its controller keeps them as they are.
    for i in range(3):
        p = pod(f"child-{i}", labels={"app": "gc"})
        p["metadata"]["ownerReferences"] = [ref]
        api.create(f"/api/v1/namespaces/{ns}/pods", p)
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("unowned"))
    r = api.delete(f"/apis/apps/v1/namespaces/{ns}/replicasets/rs", {"propagationPolicy": "Background"})
    assert r.status_code == 200, r.text
    wait_for(lambda: [p["metadata"]["name"] for p in api.read(f"/api/v1/namespaces/{ns}/pods")["items"]]
             == ["unowned"], timeout=15, what="dependents to be garbage collected")


def test_orphan_propagation_keeps_dependents(api, ns):
    owner = api.create(f"/api/v1/namespaces/{ns}/services", service("owner"))
    p = pod("dep")
    p["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Service", "name": "owner",
                                         "uid": owner["metadata"]["uid"]}]
    api.create(f"/api/v1/namespaces/{ns}/pods", p)
    r = api.delete(f"/api/v1/namespaces/{ns}/services/owner", {"propagationPolicy": "Orphan"})
    assert r.status_code in (200, 202), r.text
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/services/owner").status_code == 404, timeout=10,
             what="owner to be deleted")
    wait_for(lambda: not api.read(f"/api/v1/namespaces/{ns}/pods/dep")["metadata"].get("ownerReferences"),
             timeout=10, what="ownerReference to be removed from the orphan")
    assert api.get(f"/api/v1/namespaces/{ns}/pods/dep").status_code == 200


def test_dependent_of_missing_owner_is_collected(api, ns):
    p = pod("stray")
    p["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Service", "name": "never",
                                         "uid": str(uuid.uuid4())}]
    api.create(f"/api/v1/namespaces/{ns}/pods", p)
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/stray").status_code == 404, timeout=15,
             what="GC of a dependent whose owner does not exist")


def test_all_namespaces_list(api):
    a, b = unique("nsa"), unique("nsb")
    for n in (a, b):
        api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}})
        api.create(f"/api/v1/namespaces/{n}/endpoints", endpoints("same"))
    try:
        items = api.read("/api/v1/endpoints")["items"]
        got = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items}
        assert (a, "same") in got and (b, "same") in got
    finally:
        api.delete(f"/api/v1/namespaces/{a}")
        api.delete(f"/api/v1/namespaces/{b}")


@pytest.mark.parametrize("path,kind,body", [
    ("/apis/apps/v1/namespaces/{ns}/statefulsets", "StatefulSet", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts"},
        "spec": {"serviceName": "sts", "replicas": 1, "selector": {"matchLabels": {"app": "sts"}},
                 "template": {"metadata": {"labels": {"app": "sts"}},
                              "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
    ("/apis/apps/v1/namespaces/{ns}/daemonsets", "DaemonSet", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
        "spec": {"selector": {"matchLabels": {"app": "ds"}},
                 "template": {"metadata": {"labels": {"app": "ds"}},
                              "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
    ("/apis/apps/v1/namespaces/{ns}/replicasets", "ReplicaSet", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "rs"}},
                 "template": {"metadata": {"labels": {"app": "rs"}},
                              "spec": {"containers": [{"name": "a", "image": "x"}]}}}}),
])
def test_apps_kinds_roundtrip(api, ns, path, kind, body):
    p = path.format(ns=ns)
    obj = api.create(p, body)
    assert obj["kind"] == kind and obj["apiVersion"] == "apps/v1"
    assert obj["metadata"]["generation"] == 1
    lst = api.read(p)
    assert lst["kind"] == f"{kind}List"
    assert [i["metadata"]["name"] for i in lst["items"]] == [body["metadata"]["name"]]
    r = api.delete(f"{p}/{body['metadata']['name']}")
    assert r.status_code == 200


def test_delete_scheduled_pod_completes_without_kubelet(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("bound", node="node-1"))
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/bound")
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "Pod"
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/bound").status_code == 404, timeout=15,
             what="graceful pod deletion to complete")


def test_delete_pod_grace_zero_is_immediate(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("now", node="node-1"))
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/now", {"gracePeriodSeconds": 0})
    assert r.status_code == 200, r.text
    assert_status(api.get(f"/api/v1/namespaces/{ns}/pods/now"), 404, "NotFound")


def test_pod_defaults(api, ns):
    p = api.create(f"/api/v1/namespaces/{ns}/pods", pod("defaults", image="nginx"))
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["serviceAccountName"] == "default"
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"          # untagged image means :latest
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["qosClass"] == "BestEffort"
    tagged = api.create(f"/api/v1/namespaces/{ns}/pods", pod("tagged", image="nginx:1.27"))
    assert tagged["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_namespace_metadata_name_label(api):
    name = unique("nslabel")
    obj = api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        assert obj["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
        assert obj["spec"]["finalizers"] == ["kubernetes"]
        assert obj["status"]["phase"] == "Active"
    finally:
        api.delete(f"/api/v1/namespaces/{name}")


def test_list_at_exact_resource_version(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("first"))
    rv1 = api.read(f"/api/v1/namespaces/{ns}/endpoints")["metadata"]["resourceVersion"]
    api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("second"))
    api.patch(f"/api/v1/namespaces/{ns}/endpoints/first", {"metadata": {"labels": {"later": "yes"}}},
              content_type=MERGE)
    for params in ({"resourceVersion": rv1, "resourceVersionMatch": "Exact"},
                   {"resourceVersion": rv1, "limit": "10"}):
        body = api.read(f"/api/v1/namespaces/{ns}/endpoints", params=params)
        assert body["metadata"]["resourceVersion"] == rv1, params
        assert [i["metadata"]["name"] for i in body["items"]] == ["first"], params
        assert "labels" not in body["items"][0]["metadata"], params


def test_foreground_deletion(api, ns):
    owner = api.create(f"/api/v1/namespaces/{ns}/services", service("fg"))
    p = pod("fg-dep")
    p["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Service", "name": "fg",
                                         "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]
    api.create(f"/api/v1/namespaces/{ns}/pods", p)
    r = api.delete(f"/api/v1/namespaces/{ns}/services/fg", {"propagationPolicy": "Foreground"})
    assert r.status_code in (200, 202), r.text
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/fg-dep").status_code == 404, timeout=15,
             what="dependent deleted first")
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/services/fg").status_code == 404, timeout=15,
             what="owner deleted after its dependents")


def test_managed_fields_recorded(api, ns):
    obj = api.post(f"/api/v1/namespaces/{ns}/endpoints", endpoints("mf", labels={"a": "b"}),
                   params={"fieldManager": "tester"}).json()
    mf = obj["metadata"].get("managedFields")
    assert mf, obj["metadata"]
    entry = mf[0]
    assert entry["manager"] == "tester"
    assert entry["operation"] == "Update"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert "f:metadata" in entry["fieldsV1"]


def test_unicode_and_special_characters_roundtrip(api, ns):
    value = 'a<b>&"c" \\ ✓ ünïcødé \n\t 𝄞 \u2028'
    body = endpoints("uni")
    body["metadata"]["annotations"] = {"note": value, "empty": ""}
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", body)
    assert created["metadata"]["annotations"] == {"note": value, "empty": ""}
    got = api.read(f"/api/v1/namespaces/{ns}/endpoints/uni")
    assert got["metadata"]["annotations"]["note"] == value
    lst = api.read(f"/api/v1/namespaces/{ns}/endpoints", params={"fieldSelector": "metadata.name=uni"})
    assert lst["items"][0]["metadata"]["annotations"]["note"] == value


def test_limit_zero_means_no_limit(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints(f"z{i}"))
    body = api.read(f"/api/v1/namespaces/{ns}/endpoints", params={"limit": "0"})
    assert len(body["items"]) == 3
    assert not body["metadata"].get("continue")


def test_gc_keeps_dependent_with_remaining_owner(api, ns):
    a = api.create(f"/api/v1/namespaces/{ns}/services", service("owner-a"))
    b = api.create(f"/api/v1/namespaces/{ns}/services", service("owner-b"))
    p = pod("shared")
    p["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Service", "name": "owner-a", "uid": a["metadata"]["uid"]},
        {"apiVersion": "v1", "kind": "Service", "name": "owner-b", "uid": b["metadata"]["uid"]}]
    api.create(f"/api/v1/namespaces/{ns}/pods", p)
    api.delete(f"/api/v1/namespaces/{ns}/services/owner-a", {"propagationPolicy": "Background"})
    wait_for(lambda: [r["name"] for r in api.read(f"/api/v1/namespaces/{ns}/pods/shared")["metadata"]
                      .get("ownerReferences", [])] == ["owner-b"], timeout=15,
             what="dangling ownerReference to be removed")
    api.delete(f"/api/v1/namespaces/{ns}/services/owner-b", {"propagationPolicy": "Background"})
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/shared").status_code == 404, timeout=15,
             what="dependent collected once its last owner is gone")
