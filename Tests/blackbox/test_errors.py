"""Every failure is a metav1.Status with upstream code, reason, details and message."""

import json
import re

import pytest

from helpers import (CONFLICT_MSG, MERGE, Api, WatchStream, assert_status, curl, endpoints, pod,
                     service)

METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"
UNKNOWN_RESOURCE = "the server could not find the requested resource"


def test_404_object(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/pods/nope")
    st = assert_status(r, 404, "NotFound", message='pods "nope" not found')
    assert st["details"] == {"name": "nope", "kind": "pods"} or st["details"] == {"name": "nope", "group": "", "kind": "pods"}


def test_404_object_in_named_group(api, ns):
    r = api.get(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/nope")
    st = assert_status(r, 404, "NotFound", message='endpointslices.discovery.k8s.io "nope" not found')
    assert st["details"]["group"] == "discovery.k8s.io"
    assert st["details"]["kind"] == "endpointslices"


def test_404_cluster_scoped_object(api):
    assert_status(api.get("/api/v1/namespaces/nope"), 404, "NotFound", message='namespaces "nope" not found')


@pytest.mark.parametrize("path", ["/api/v1/foos", "/api/v1/namespaces/default/foos",
                                  "/apis/apps/v1/namespaces/default/pods", "/apis/nope.example.com/v1/things",
                                  "/api/v2/pods", "/totally/unknown"])
def test_404_unknown_path(api, path):
    r = api.get(path)
    assert_status(r, 404, "NotFound", message=UNKNOWN_RESOURCE)


def test_404_unknown_subresource(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("s"))
    r = api.get(f"/api/v1/namespaces/{ns}/services/s/bogus")
    assert_status(r, 404, "NotFound")


@pytest.mark.parametrize("method,path", [
    ("PUT", "/api/v1/namespaces/{ns}/pods"),
    ("POST", "/api/v1/namespaces/{ns}/pods/x"),
    ("DELETE", "/api/v1/namespaces"),
    ("PATCH", "/api/v1/namespaces/{ns}/endpoints"),
])
def test_405_method_not_allowed(api, ns, method, path):
    r = api.request(method, path.format(ns=ns), data="{}", content_type="application/json")
    st = assert_status(r, 405, "MethodNotAllowed")
    assert st["message"] == METHOD_NOT_ALLOWED or re.match(
        r'^\w+ is not supported on resources of kind "[\w./]+"$', st["message"]), st["message"]


def test_415_unsupported_body_media_type(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data=json.dumps(pod("x")), content_type="text/plain")
    st = assert_status(r, 415, "UnsupportedMediaType",
                       message_prefix="the body of the request was in an unknown format - accepted media types include: ")
    assert "application/json" in st["message"]


def test_415_unsupported_patch_type(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("p"))
    r = api.request("PATCH", f"/api/v1/namespaces/{ns}/services/p", data="{}", content_type="application/xml")
    assert_status(r, 415, "UnsupportedMediaType",
                  message_prefix="the body of the request was in an unknown format - accepted media types include: ")


def test_post_without_content_type_defaults_to_json(api, ns):
    # the Python client sends POST bodies without a Content-Type header
    r = api.s.post(api.url(f"/api/v1/namespaces/{ns}/services"), data=json.dumps(service("noct")).encode(),
                   headers={"Content-Type": ""})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["name"] == "noct"


def test_400_malformed_json(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data='{"apiVersion": "v1", "kind": "Pod", bad',
                    content_type="application/json")
    st = assert_status(r, 400, "BadRequest")
    assert st["message"], st


def test_400_malformed_json_no_kind(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data="{bad", content_type="application/json")
    assert_status(r, 400, "BadRequest", message_prefix="the object provided is unrecognized (must be of type Pod): ")


def test_413_body_too_large(api, ns):
    big = endpoints("big")
    big["metadata"]["annotations"] = {"pad": "x" * (3 * 1024 * 1024 + 10)}
    r = api.post(f"/api/v1/namespaces/{ns}/endpoints", big)
    assert_status(r, 413, "RequestEntityTooLarge", message="Request entity too large: limit is 3145728")
    assert api.get(f"/api/v1/namespaces/{ns}/endpoints/big").status_code == 404


def test_413_respects_max_body_bytes_flag(kemu_factory):
    srv = kemu_factory("--max-body-bytes", "2000")
    api = Api(srv.url)
    small = endpoints("small")
    assert api.post("/api/v1/namespaces/default/endpoints", small).status_code == 201
    big = endpoints("big")
    big["metadata"]["annotations"] = {"pad": "x" * 3000}
    r = api.post("/api/v1/namespaces/default/endpoints", big)
    assert_status(r, 413, "RequestEntityTooLarge", message="Request entity too large: limit is 2000")
    # the connection / server stays usable
    assert api.get("/api/v1/namespaces/default/endpoints/small").status_code == 200


def test_400_kind_mismatch(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", service("svc-in-pods"))
    assert_status(r, 400, "BadRequest", message_prefix='Service in version "v1" cannot be handled as a Pod')


def test_400_api_version_mismatch(api, ns):
    body = pod("pv")
    body["apiVersion"] = "apps/v1"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    st = assert_status(r, 400, "BadRequest")
    assert "apps/v1" in st["message"] or 'in version "v1"' in st["message"], st["message"]


def test_400_name_mismatch(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("a"))
    body = dict(created, metadata=dict(created["metadata"], name="b"))
    r = api.put(f"/api/v1/namespaces/{ns}/services/a", body)
    assert_status(r, 400, "BadRequest", message="the name of the object (b) does not match the name on the URL (a)")


def test_400_namespace_mismatch_on_update(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("a"))
    body = dict(created, metadata=dict(created["metadata"], namespace="kube-system"))
    r = api.put(f"/api/v1/namespaces/{ns}/services/a", body)
    assert_status(r, 400, "BadRequest",
                  message="the namespace of the provided object does not match the namespace sent on the request")


def test_404_missing_namespace(api):
    r = api.post("/api/v1/namespaces/does-not-exist/services", service("s"))
    st = assert_status(r, 404, "NotFound", message='namespaces "does-not-exist" not found')
    assert st["details"]["kind"] == "namespaces"


def test_422_invalid_with_causes(api, ns):
    body = pod("Invalid_Name", labels={"ok": "-bad-"})
    body["spec"]["containers"] = []
    r = api.post(f"/api/v1/namespaces/{ns}/pods", body)
    st = assert_status(r, 422, "Invalid", message_prefix='Pod "Invalid_Name" is invalid: [')
    d = st["details"]
    assert d["name"] == "Invalid_Name"
    assert d["kind"] == "Pod"
    fields = {c["field"]: c for c in d["causes"]}
    assert "metadata.name" in fields and fields["metadata.name"]["reason"] == "FieldValueInvalid"
    assert "metadata.labels" in fields and fields["metadata.labels"]["reason"] == "FieldValueInvalid"
    assert "spec.containers" in fields and fields["spec.containers"]["reason"] == "FieldValueRequired"
    for c in d["causes"]:
        assert c["message"] and c["message"] in st["message"]
    assert st["message"].endswith("]")


def test_409_already_exists(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    st = assert_status(r, 409, "AlreadyExists", message='deployments.apps "d" already exists')
    assert st["details"] == {"name": "d", "group": "apps", "kind": "deployments"}


def test_409_conflict(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("c"))
    api.patch(f"/api/v1/namespaces/{ns}/endpoints/c", {"metadata": {"labels": {"x": "1"}}}, content_type=MERGE)
    r = api.put(f"/api/v1/namespaces/{ns}/endpoints/c", created)
    st = assert_status(r, 409, "Conflict", message=CONFLICT_MSG.format(res="endpoints", name="c"))
    assert st["details"]["name"] == "c"
    assert st["details"]["kind"] == "endpoints"


def test_410_expired_watch(kemu_factory):
    srv = kemu_factory("--event-history", "20")
    api = Api(srv.url)
    first = api.create("/api/v1/namespaces/default/services", service("s0"))
    for i in range(1, 30):
        api.create("/api/v1/namespaces/default/services", service(f"s{i}"))
    w = WatchStream(srv.url, "/api/v1/namespaces/default/services",
                    {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]})
    try:
        assert w.status == 200
        ev = w.next(timeout=10)
        assert ev is not None and ev["type"] == "ERROR", ev
        st = ev["object"]
        assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired"
        assert re.match(r"^too old resource version: \d+ \(\d+\)$", st["message"]), st["message"]
        assert w.wait_end(10), "the stream should end after the ERROR event"
    finally:
        w.close()


def test_status_on_error_for_table_accept(api, ns):
    from helpers import TABLE_ACCEPT
    r = api.get(f"/api/v1/namespaces/{ns}/pods/nope", accept=TABLE_ACCEPT)
    assert_status(r, 404, "NotFound", message='pods "nope" not found')


def test_curl_error_body(api, ns):
    code, body = curl(f"{api.base}/api/v1/namespaces/{ns}/services/absent")
    assert code == 404
    st = json.loads(body)
    if st.get("details", {}).get("group") == "":
        del st["details"]["group"]  # omitempty upstream; tolerate an explicit empty group
    assert st == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": 'services "absent" not found', "reason": "NotFound",
                  "details": {"name": "absent", "kind": "services"}, "code": 404}


def test_curl_large_bodies_with_expect_100_continue(api, ns, tmp_path):
    # curl sends `Expect: 100-continue` for bodies over 1 MiB (annotations are capped at 256 KiB, so pad an env var)
    ok = pod("big-ok")
    ok["spec"]["containers"][0]["env"] = [{"name": "PAD", "value": "y" * (1200 * 1024)}]
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(ok))
    code, body = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary", f"@{f}",
                      f"{api.base}/api/v1/namespaces/{ns}/pods")
    assert code == 201, body[:500]
    assert len(json.loads(body)["spec"]["containers"][0]["env"][0]["value"]) == 1200 * 1024
    big = endpoints("big-no")
    big["metadata"]["annotations"] = {"pad": "z" * (4 * 1024 * 1024)}
    f2 = tmp_path / "big.json"
    f2.write_text(json.dumps(big))
    code, body = curl("-X", "POST", "-H", "Content-Type: application/json", "--data-binary", f"@{f2}",
                      f"{api.base}/api/v1/namespaces/{ns}/endpoints")
    assert code == 413, body[:500]
    st = json.loads(body)
    assert st["reason"] == "RequestEntityTooLarge"
    assert st["message"] == "Request entity too large: limit is 3145728"
