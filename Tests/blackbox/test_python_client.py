"""The official Python client (kubernetes==37.0.2, strict pydantic models) against kemu."""

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from helpers import CONFLICT_MSG, unique


@pytest.fixture
def k8s(server):
    cfg = client.Configuration(host=server.url)
    api_client = client.ApiClient(cfg)
    yield api_client
    api_client.close()


@pytest.fixture
def core(k8s):
    return client.CoreV1Api(k8s)


@pytest.fixture
def apps(k8s):
    return client.AppsV1Api(k8s)


@pytest.fixture
def disc(k8s):
    return client.DiscoveryV1Api(k8s)


def mk_pod(name, labels=None, node=None):
    return client.V1Pod(api_version="v1", kind="Pod",
                        metadata=client.V1ObjectMeta(name=name, labels=labels),
                        spec=client.V1PodSpec(node_name=node,
                                              containers=[client.V1Container(name="app", image="nginx:1.27")]))


def mk_service(name, port=80, labels=None):
    return client.V1Service(api_version="v1", kind="Service",
                            metadata=client.V1ObjectMeta(name=name, labels=labels),
                            spec=client.V1ServiceSpec(selector={"app": name},
                                                      ports=[client.V1ServicePort(name="http", port=port)]))


def status_body(e):
    return json.loads(e.body)


def test_list_and_read_namespaces(core):
    lst = core.list_namespace()
    assert isinstance(lst, client.V1NamespaceList)
    assert lst.kind == "NamespaceList"
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= {n.metadata.name for n in lst.items}
    ns = core.read_namespace("default")
    assert ns.status.phase == "Active"
    svc = core.read_namespaced_service("kubernetes", "default")
    assert svc.spec.ports[0].port == 443


def test_list_empty(core, ns):
    lst = core.list_namespaced_pod(ns)
    assert lst.items == []
    assert int(lst.metadata.resource_version) > 0


def test_create_read_list_with_selectors(core, ns):
    created = core.create_namespaced_pod(ns, mk_pod("web-1", labels={"app": "web"}, node="node-1"))
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    core.create_namespaced_pod(ns, mk_pod("db-1", labels={"app": "db"}, node="node-2"))
    got = core.read_namespaced_pod("web-1", ns)
    assert got.metadata.uid == created.metadata.uid
    assert got.spec.containers[0].image == "nginx:1.27"
    by_label = core.list_namespaced_pod(ns, label_selector="app=web")
    assert [p.metadata.name for p in by_label.items] == ["web-1"]
    by_field = core.list_namespaced_pod(ns, field_selector="spec.nodeName=node-2")
    assert [p.metadata.name for p in by_field.items] == ["db-1"]
    everywhere = core.list_pod_for_all_namespaces(label_selector="app in (web,db)", field_selector=f"metadata.namespace={ns}")
    assert sorted(p.metadata.name for p in everywhere.items) == ["db-1", "web-1"]


def test_pagination(core, ns):
    for i in range(5):
        core.create_namespaced_service(ns, mk_service(f"s{i}"))
    page = core.list_namespaced_service(ns, limit=2)
    seen = [s.metadata.name for s in page.items]
    assert page.metadata.remaining_item_count == 3
    while page.metadata.var_continue:
        page = core.list_namespaced_service(ns, limit=2, _continue=page.metadata.var_continue)
        seen += [s.metadata.name for s in page.items]
    assert sorted(seen) == [f"s{i}" for i in range(5)]


def test_create_generate_name_and_defaults(core, ns):
    body = client.V1Service(api_version="v1", kind="Service", metadata=client.V1ObjectMeta(generate_name="gen-"),
                            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]))
    svc = core.create_namespaced_service(ns, body)
    assert svc.metadata.name.startswith("gen-") and len(svc.metadata.name) == len("gen-") + 5
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.cluster_ip
    assert svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].target_port == 80


def test_create_conflict_404_and_422(core, ns):
    core.create_namespaced_service(ns, mk_service("dupe"))
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_service(ns, mk_service("dupe"))
    assert ei.value.status == 409
    assert status_body(ei.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as ei:
        core.read_namespaced_pod("nope", ns)
    assert ei.value.status == 404
    assert status_body(ei.value)["message"] == 'pods "nope" not found'
    with pytest.raises(ApiException) as ei:
        core.create_namespaced_pod(ns, mk_pod("Not_Valid"))
    assert ei.value.status == 422
    assert status_body(ei.value)["reason"] == "Invalid"


def test_replace_and_stale_conflict(core, ns):
    created = core.create_namespaced_service(ns, mk_service("rep"))
    created.metadata.labels = {"v": "1"}
    updated = core.replace_namespaced_service("rep", ns, created)
    assert updated.metadata.labels == {"v": "1"}
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    # `created` still carries the old resourceVersion: stale
    created.metadata.labels = {"v": "2"}
    with pytest.raises(ApiException) as ei:
        core.replace_namespaced_service("rep", ns, created)
    assert ei.value.status == 409
    st = status_body(ei.value)
    assert st["reason"] == "Conflict"
    assert st["message"] == CONFLICT_MSG.format(res="services", name="rep")
    assert core.read_namespaced_service("rep", ns).metadata.labels == {"v": "1"}


def test_patch_strategic_and_json(apps, ns):
    d = client.V1Deployment(
        api_version="apps/v1", kind="Deployment", metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="nginx:1.27"),
                                                  client.V1Container(name="side", image="envoy:1")]))))
    apps.create_namespaced_deployment(ns, d)
    # dict body -> strategic merge patch: containers merge by name
    p = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 2, "template": {"spec": {
        "containers": [{"name": "app", "image": "nginx:1.28"}]}}}})
    assert p.spec.replicas == 2
    assert [(c.name, c.image) for c in p.spec.template.spec.containers] == [("app", "nginx:1.28"), ("side", "envoy:1")]
    assert p.metadata.generation == 2
    # list body -> json patch
    p = apps.patch_namespaced_deployment("web", ns, [{"op": "replace", "path": "/spec/replicas", "value": 3}])
    assert p.spec.replicas == 3
    # forced merge patch replaces the list wholesale
    p = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "only", "image": "busybox"}]}}}}, _content_type="application/merge-patch+json")
    assert [c.name for c in p.spec.template.spec.containers] == ["only"]


def test_patch_service_ports_keeps_names(core, ns):
    core.create_namespaced_service(ns, client.V1Service(
        api_version="v1", kind="Service", metadata=client.V1ObjectMeta(name="ports"),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(name="http", port=80),
                                         client.V1ServicePort(name="grpc", port=9000)])))
    s = core.patch_namespaced_service("ports", ns, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}})
    assert [(p.name, p.port, p.target_port) for p in s.spec.ports] == [("http", 80, 8080), ("grpc", 9000, 9000)]


def test_delete(core, ns):
    created = core.create_namespaced_pod(ns, mk_pod("gone", node="node-1"))
    out = core.delete_namespaced_pod("gone", ns, grace_period_seconds=0)
    assert out.metadata.uid == created.metadata.uid
    with pytest.raises(ApiException) as ei:
        core.read_namespaced_pod("gone", ns)
    assert ei.value.status == 404
    core.create_namespaced_service(ns, mk_service("gone-svc"))
    core.delete_namespaced_service("gone-svc", ns, propagation_policy="Foreground")
    with pytest.raises(ApiException) as ei:
        for _ in range(100):
            core.read_namespaced_service("gone-svc", ns)
            time.sleep(0.1)
    assert ei.value.status == 404


def test_endpointslice_roundtrip(disc, ns):
    body = client.V1EndpointSlice(
        api_version="discovery.k8s.io/v1", kind="EndpointSlice", metadata=client.V1ObjectMeta(name="es"),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["10.0.0.5"], conditions=client.V1EndpointConditions(ready=True))],
        ports=[client.DiscoveryV1EndpointPort(name="http", port=80)])
    created = disc.create_namespaced_endpoint_slice(ns, body)
    assert created.address_type == "IPv4"
    lst = disc.list_endpoint_slice_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
    assert [e.metadata.name for e in lst.items] == ["es"]
    assert lst.items[0].endpoints[0].addresses == ["10.0.0.5"]
    assert lst.items[0].ports[0].protocol == "TCP"


def test_watch_stream_added_modified_deleted(core, ns):
    events = []
    w = watch.Watch()
    ready = threading.Event()
    rv = core.list_namespaced_pod(ns).metadata.resource_version

    def consume():
        ready.set()
        for ev in w.stream(core.list_namespaced_pod, ns, resource_version=rv, timeout_seconds=20):
            events.append((ev["type"], ev["object"].metadata.name, ev["object"].metadata.resource_version,
                           type(ev["object"]).__name__))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.3)
    core.create_namespaced_pod(ns, mk_pod("watched"))
    core.patch_namespaced_pod("watched", ns, {"metadata": {"labels": {"step": "2"}}})
    core.delete_namespaced_pod("watched", ns, grace_period_seconds=0)
    t.join(25)
    assert not t.is_alive(), f"watch did not finish: {events}"
    assert [e[0] for e in events] == ["ADDED", "MODIFIED", "DELETED"], events
    assert all(e[1] == "watched" and e[3] == "V1Pod" for e in events)
    rvs = [int(e[2]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3
    assert w.resource_version == events[-1][2]


def test_watch_stream_initial_state(disc, ns):
    disc.create_namespaced_endpoint_slice(ns, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "pre"},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]})
    w = watch.Watch()
    got = []
    for ev in w.stream(disc.list_namespaced_endpoint_slice, ns, timeout_seconds=1):
        got.append((ev["type"], ev["object"].metadata.name))
    assert got == [("ADDED", "pre")]


def test_watch_stream_410_raises(kemu_factory):
    srv = kemu_factory("--event-history", "20")
    api_client = client.ApiClient(client.Configuration(host=srv.url))
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_service("default", mk_service("s-first"))
    for i in range(30):
        core.create_namespaced_service("default", mk_service(f"s{i}"))
    w = watch.Watch()
    with pytest.raises(ApiException) as ei:
        for _ in w.stream(core.list_namespaced_service, "default",
                          resource_version=first.metadata.resource_version, timeout_seconds=5):
            pass
    assert ei.value.status == 410
    assert ei.value.reason.startswith("Expired: too old resource version: ")
    api_client.close()


def test_status_subresource_via_client(core, ns):
    core.create_namespaced_pod(ns, mk_pod("stat", node="node-1"))
    p = core.patch_namespaced_pod_status("stat", ns, {"status": {"phase": "Running", "podIP": "10.244.1.5"}})
    assert p.status.phase == "Running"
    lst = core.list_namespaced_pod(ns, field_selector="status.phase=Running")
    assert [x.metadata.name for x in lst.items] == ["stat"]
    assert lst.items[0].status.pod_ip == "10.244.1.5"


def test_nodes_and_deployments_deserialize(core, apps, ns):
    name = unique("pynode")
    core.create_node(client.V1Node(api_version="v1", kind="Node", metadata=client.V1ObjectMeta(name=name)))
    try:
        nodes = core.list_node()
        assert name in [n.metadata.name for n in nodes.items]
    finally:
        core.delete_node(name)
    for kind_list in (apps.list_namespaced_deployment(ns), apps.list_namespaced_stateful_set(ns),
                      apps.list_namespaced_daemon_set(ns), apps.list_namespaced_replica_set(ns),
                      core.list_namespaced_endpoints(ns)):
        assert kind_list.items == []
