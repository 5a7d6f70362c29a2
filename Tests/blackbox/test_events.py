"""core/v1 Events as an API: CRUD and the Go field layout, validation (422) and 404s, upstream's field
selectors, watch, the Table, the Python client, and expiry after --event-ttl."""

import time

import pytest
from kubernetes import client

from helpers import MERGE, SMP, TABLE_ACCEPT, Api, WatchStream, assert_status, unique, wait_for

ALL8 = sorted(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])


def event(name, involved="p", kind="Pod", ns=None, reason="Started", message="hello", **extra):
    ref = {"kind": kind, "name": involved, "apiVersion": "v1"}
    if ns is not None:
        ref["namespace"] = ns
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name}, "involvedObject": ref,
            "reason": reason, "message": message, "type": "Normal", "count": 1,
            "source": {"component": "test-suite"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z"}
    body.update(extra)
    return body


def events_path(ns):
    return f"/api/v1/namespaces/{ns}/events"


def test_discovery_lists_events(api):
    res = {r["name"]: r for r in api.read("/api/v1")["resources"]}
    ev = res["events"]
    assert (ev["singularName"], ev["namespaced"], ev["kind"], ev.get("shortNames")) == ("event", True, "Event", ["ev"])
    assert sorted(ev["verbs"]) == ALL8
    doc = api.read(api.read("/openapi/v3")["paths"]["api/v1"]["serverRelativeURL"])
    assert "/api/v1/namespaces/{namespace}/events/{name}" in doc["paths"]
    assert "io.k8s.api.core.v1.Event" in doc["components"]["schemas"]


def test_create_and_get_in_go_field_layout(api, ns):
    r = api.post(events_path(ns), {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.1"},
                                    "reason": "Pulled", "type": "Normal",
                                    "involvedObject": {"name": "p", "namespace": ns, "kind": "Pod"}})
    assert r.status_code == 201, r.text
    got = api.read(f"{events_path(ns)}/p.1")
    assert list(got) == ["kind", "apiVersion", "metadata", "involvedObject", "reason", "source", "firstTimestamp",
                         "lastTimestamp", "type", "eventTime", "reportingComponent", "reportingInstance"]
    assert got["source"] == {} and got["firstTimestamp"] is None and got["eventTime"] is None
    assert got["reportingComponent"] == "" and got["reportingInstance"] == ""
    assert list(got["involvedObject"]) == ["kind", "namespace", "name"]
    # Names are path segments, not DNS names: client-go's "<object>.<hex>" and even capitals pass.
    assert api.post(events_path(ns), event("Web_1.17f0a9c3", ns=ns)).status_code == 201


def test_put_creates_and_patch_updates(api, ns):
    r = api.put(f"{events_path(ns)}/made.1", event("made.1", ns=ns))
    assert r.status_code == 201, r.text
    r = api.patch(f"{events_path(ns)}/made.1", {"count": 2, "lastTimestamp": "2024-01-01T00:05:00Z", "message": "again"},
                  content_type=SMP)
    assert r.status_code == 200, r.text
    assert (r.json()["count"], r.json()["message"]) == (2, "again")


def test_namespace_mismatch_is_422(api, ns):
    r = api.post(events_path(ns), event("bad.1", ns="elsewhere"))
    st = assert_status(r, 422, "Invalid",
                       message='Event "bad.1" is invalid: involvedObject.namespace: Invalid value: "elsewhere": '
                               'does not match event.namespace')
    assert st["details"]["kind"] == "Event"
    assert st["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "involvedObject.namespace",
                                        "message": 'Invalid value: "elsewhere": does not match event.namespace'}]
    # A Node's events may only go to "default".
    assert_status(api.post(events_path(ns), event("node.1", kind="Node", involved="n1")), 422, "Invalid",
                  message_contains='involvedObject.namespace: Invalid value: "": does not match event.namespace')


def test_new_style_event_without_reporting_fields_is_422(api, ns):
    body = event("new.1", ns=ns, eventTime="2024-01-01T00:00:00.000000Z")
    r = api.post(events_path(ns), body)
    st = assert_status(r, 422, "Invalid", message_prefix='Event "new.1" is invalid: ')
    # An empty reportingComponent is both required and not a qualified name, as upstream reports it.
    assert {c["field"] for c in st["details"]["causes"]} == {"action", "reportingComponent", "reportingInstance"}, st
    assert "reportingComponent: Required value" in st["message"]
    body.update(action="Binding", reportingComponent="default-scheduler", reportingInstance="default-scheduler-n1")
    assert api.post(events_path(ns), body).status_code == 201


def test_missing_event_and_namespace_are_404(api, ns):
    assert_status(api.get(f"{events_path(ns)}/nope"), 404, "NotFound", message='events "nope" not found')
    gone = unique("gone")
    assert_status(api.post(events_path(gone), event("e.1", ns=gone)), 404, "NotFound",
                  message=f'namespaces "{gone}" not found')
    assert_status(api.delete(f"{events_path(ns)}/nope"), 404, "NotFound", message='events "nope" not found')


def test_field_selectors(api, ns):
    api.create(events_path(ns), event("a.1", involved="a", ns=ns, reason="Started"))
    api.create(events_path(ns), event("a.2", involved="a", ns=ns, reason="Killing", type="Warning"))
    api.create(events_path(ns), event("b.1", involved="b", ns=ns, reason="Started", reportingComponent="kubelet"))

    def names(selector):
        return sorted(e["metadata"]["name"] for e in api.read(events_path(ns), params={"fieldSelector": selector})["items"])

    assert names("involvedObject.name=a") == ["a.1", "a.2"]
    assert names("involvedObject.name=a,reason=Started") == ["a.1"]
    assert names("type=Warning") == ["a.2"]
    assert names("reason!=Started") == ["a.2"]
    assert names("reportingComponent=kubelet") == ["b.1"]
    assert names("source=test-suite,involvedObject.kind=Pod,involvedObject.apiVersion=v1") == ["a.1", "a.2", "b.1"]
    assert names(f"involvedObject.namespace={ns},metadata.name=b.1") == ["b.1"]
    assert names("involvedObject.uid=,involvedObject.fieldPath=,involvedObject.resourceVersion=") == ["a.1", "a.2", "b.1"]
    assert_status(api.get(events_path(ns), params={"fieldSelector": "count=1"}), 400, "BadRequest",
                  message="field label not supported: count")


def test_watch_events_with_a_field_selector(api, server, ns):
    rv = api.read(events_path(ns))["metadata"]["resourceVersion"]
    w = WatchStream(server.url, events_path(ns), {"watch": "true", "resourceVersion": rv,
                                                  "fieldSelector": "involvedObject.name=w"})
    try:
        api.create(events_path(ns), event("other.1", involved="other", ns=ns))
        api.create(events_path(ns), event("w.1", involved="w", ns=ns))
        api.patch(f"{events_path(ns)}/w.1", {"count": 2}, content_type=MERGE)
        api.delete(f"{events_path(ns)}/w.1")
        evs = w.take(3, timeout=10)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
            ("ADDED", "w.1"), ("MODIFIED", "w.1"), ("DELETED", "w.1")]
        assert evs[1]["object"]["count"] == 2
    finally:
        w.close()


def test_table_columns_and_cells(api, ns):
    api.create(events_path(ns), event("t.1", involved="web", kind="Deployment", ns=ns, reason="ScalingReplicaSet",
                                      message="Scaled up replica set web-1 from 0 to 3", count=4))
    t = api.read(events_path(ns), accept=TABLE_ACCEPT)
    cols = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols == [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1), ("Source", 1),
                    ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]
    cells = t["rows"][0]["cells"]
    assert cells[1:8] == ["Normal", "ScalingReplicaSet", "deployment/web", "", "test-suite",
                          "Scaled up replica set web-1 from 0 to 3", cells[7]]
    assert cells[8:] == [4, "t.1"]
    assert cells[0].endswith(("d", "y")), cells  # lastTimestamp is in 2024


def test_python_client_lists_with_a_field_selector(server, api, ns):
    api.create(events_path(ns), event("py.1", involved="py", ns=ns))
    api.create(events_path(ns), event("other.1", involved="other", ns=ns))
    with client.ApiClient(client.Configuration(host=server.url)) as c:
        core = client.CoreV1Api(c)
        lst = core.list_namespaced_event(ns, field_selector="involvedObject.name=py")
        assert [e.metadata.name for e in lst.items] == ["py.1"]
        e = lst.items[0]
        assert (e.reason, e.type, e.count, e.source.component, e.involved_object.kind) == ("Started", "Normal", 1, "test-suite", "Pod")
        made = core.create_namespaced_event(ns, client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="py.2"), involved_object=client.V1ObjectReference(kind="Pod", name="py", namespace=ns),
            reason="Pulled", message="m", type="Normal"))
        assert made.metadata.name == "py.2"
        assert len(core.list_event_for_all_namespaces(field_selector=f"involvedObject.namespace={ns},involvedObject.name=py").items) == 2


def test_events_expire_after_event_ttl(kemu_factory):
    srv = kemu_factory("--nodes", "0", "--no-scheduler", "--event-ttl", "2s")
    api = Api(srv.url)
    try:
        path = events_path("default")
        first = api.create(path, event("short.1", ns="default"))
        w = WatchStream(srv.url, path, {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]})
        try:
            api.create(path, event("renewed.1", ns="default"))
            time.sleep(1.2)
            api.patch(f"{path}/renewed.1", {"count": 2}, content_type=MERGE)  # a write renews the TTL
            t0 = time.monotonic()
            wait_for(lambda: api.get(f"{path}/short.1").status_code == 404, timeout=5, what="short.1 to expire")
            assert api.get(f"{path}/renewed.1").status_code == 200
            wait_for(lambda: api.get(f"{path}/renewed.1").status_code == 404, timeout=5, what="renewed.1 to expire")
            assert time.monotonic() - t0 >= 0.5
            deleted = [e["object"]["metadata"]["name"] for e in w.take_until(
                lambda e: e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "renewed.1", timeout=5)[0]
                if e["type"] == "DELETED"]
            assert deleted == ["short.1", "renewed.1"]
        finally:
            w.close()
    finally:
        api.close()


def test_bad_event_ttl_flag_is_rejected(kemu_bin):
    import subprocess
    p = subprocess.run([kemu_bin, "serve", "--event-ttl", "soon"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert '--event-ttl: invalid duration "soon"' in p.stderr
