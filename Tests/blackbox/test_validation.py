"""Validation and server-owned fields: names per kind, labels, Service IP/port allocation, immutability."""

import ipaddress

from helpers import MERGE, assert_status, endpoints, pod, service


def test_namespace_name_is_a_dns_label(api):
    r = api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    st = assert_status(r, 422, "Invalid", message_prefix=(
        'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist '
        "of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"))
    assert st["details"]["causes"][0]["field"] == "metadata.name"


def test_service_name_is_a_dns1035_label(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("1abc"))
    assert_status(r, 422, "Invalid", message_prefix=(
        'Service "1abc" is invalid: metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower '
        "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
        "character"))


def test_pod_name_may_contain_dots(api, ns):
    assert api.post(f"/api/v1/namespaces/{ns}/pods", pod("web.v1.example")).status_code == 201


def test_name_too_long(api, ns):
    name = "a" * 254
    r = api.post(f"/api/v1/namespaces/{ns}/endpoints", endpoints(name))
    assert_status(r, 422, "Invalid", message_contains="must be no more than 253 characters")


def test_label_value_too_long(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/endpoints", endpoints("l", labels={"a": "x" * 64}))
    assert_status(r, 422, "Invalid", message_contains="must be no more than 63 characters")


def test_label_key_with_prefix(api, ns):
    ok = api.post(f"/api/v1/namespaces/{ns}/endpoints",
                  endpoints("k", labels={"app.kubernetes.io/name": "web", "example.com/x": ""}))
    assert ok.status_code == 201, ok.text
    r = api.post(f"/api/v1/namespaces/{ns}/endpoints", endpoints("k2", labels={"Bad_Prefix/x": "1"}))
    assert_status(r, 422, "Invalid", message_contains="metadata.labels")


def test_server_owned_metadata_is_ignored_on_create(api, ns):
    body = endpoints("owned")
    body["metadata"].update({"uid": "abc", "creationTimestamp": "2001-01-01T00:00:00Z", "generation": 7})
    obj = api.create(f"/api/v1/namespaces/{ns}/endpoints", body)
    assert obj["metadata"]["uid"] != "abc"
    assert not obj["metadata"]["creationTimestamp"].startswith("2001")


def test_put_with_different_uid_conflicts(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("uidp"))
    body = dict(created, metadata=dict(created["metadata"], uid="11111111-1111-1111-1111-111111111111"))
    r = api.put(f"/api/v1/namespaces/{ns}/endpoints/uidp", body)
    assert_status(r, 409, "Conflict", message_prefix='Operation cannot be fulfilled on endpoints "uidp": ')


def test_put_with_rfc3339_offset_creation_timestamp(api, ns):
    # clients (e.g. the Python client) re-serialise timestamps as +00:00; the value is the same instant
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("ts"))
    ts = created["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    body = dict(created, metadata=dict(created["metadata"], creationTimestamp=ts, labels={"x": "1"}))
    r = api.put(f"/api/v1/namespaces/{ns}/endpoints/ts", body)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_cluster_ip_outside_range_is_invalid(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("out", clusterIP="1.2.3.4"))
    st = assert_status(r, 422, "Invalid", message_prefix='Service "out" is invalid: spec.clusterIPs')
    assert st["details"]["causes"][0]["field"].startswith("spec.clusterIP")


def test_cluster_ip_already_allocated(api, ns):
    kube_ip = api.read("/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"]
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("dupip", clusterIP=kube_ip))
    assert_status(r, 422, "Invalid", message_contains="already allocated")


def test_requested_cluster_ip_is_honoured(api, ns):
    kube_ip = ipaddress.IPv4Address(api.read("/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"])
    want = str(kube_ip + 4000)
    svc = api.create(f"/api/v1/namespaces/{ns}/services", service("want", clusterIP=want))
    assert svc["spec"]["clusterIP"] == want
    api.delete(f"/api/v1/namespaces/{ns}/services/want")
    # a deleted service releases its IP
    again = api.post(f"/api/v1/namespaces/{ns}/services", service("want2", clusterIP=want))
    assert again.status_code == 201, again.text


def test_cluster_ip_is_immutable(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services", service("imm"))
    ip = ipaddress.IPv4Address(svc["spec"]["clusterIP"])
    svc["spec"]["clusterIP"] = str(ip + 1)
    svc["spec"]["clusterIPs"] = [str(ip + 1)]
    r = api.put(f"/api/v1/namespaces/{ns}/services/imm", svc)
    st = assert_status(r, 422, "Invalid", message_prefix='Service "imm" is invalid: ')
    assert "spec.clusterIP" in st["message"]
    assert "may not change once set" in st["message"] or "field is immutable" in st["message"], st["message"]


def test_node_port_conflict(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("np1", ports=[{"port": 80, "nodePort": 31234}],
                                                             type="NodePort"))
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("np2", ports=[{"port": 80, "nodePort": 31234}],
                                                               type="NodePort"))
    assert_status(r, 422, "Invalid", message_contains="spec.ports[0].nodePort")


def test_node_port_out_of_range(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/services", service("npr", ports=[{"port": 80, "nodePort": 80}],
                                                               type="NodePort"))
    assert_status(r, 422, "Invalid", message_contains="spec.ports[0].nodePort")


def test_service_type_change_to_cluster_ip_drops_node_port(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services", service("chg", type="NodePort"))
    assert svc["spec"]["ports"][0]["nodePort"]
    r = api.patch(f"/api/v1/namespaces/{ns}/services/chg", {"spec": {"type": "ClusterIP"}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    assert "nodePort" not in r.json()["spec"]["ports"][0]


def test_not_acceptable(api):
    r = api.get("/api/v1/namespaces", accept="application/xml")
    assert_status(r, 406, "NotAcceptable", message_prefix="only the following media types are accepted: ")


def test_protobuf_accept_falls_back_to_json(api):
    r = api.get("/api/v1/namespaces/default", accept="application/vnd.kubernetes.protobuf,application/json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["metadata"]["name"] == "default"


def test_future_resource_version_get_times_out_with_504(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"resourceVersion": "999999999",
                                                       "resourceVersionMatch": "NotOlderThan"}, timeout=30)
    st = assert_status(r, 504, "Timeout", message_prefix="Too large resource version: 999999999")
    assert st["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
