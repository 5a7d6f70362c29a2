"""ControllerRevisions (apps/v1) as an API kind: create/get/list/patch/delete, validation, the Table printer,
the OpenAPI document, and the revisions the StatefulSet and DaemonSet controllers keep."""

from helpers import MERGE, TABLE_ACCEPT, assert_status, wait_for


def revision(name, data=None, number=1, owner=None):
    meta = {"name": name, "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                    "uid": "0b8f0c1e-0000-4000-8000-000000000001", "controller": True}]
    obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "revision": number}
    if data is not None:
        obj["data"] = data
    return obj


def test_crud_and_validation(api, ns):
    base = f"/apis/apps/v1/namespaces/{ns}/controllerrevisions"
    data = {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "web"}}}}}
    created = api.create(base + "?fieldValidation=Strict", revision("web-1", data, 3))
    assert created["kind"] == "ControllerRevision" and created["apiVersion"] == "apps/v1"
    assert created["data"] == data and created["revision"] == 3
    assert "generation" not in created["metadata"]
    assert [i["metadata"]["name"] for i in api.read(base, params={"labelSelector": "app=web"})["items"]] == ["web-1"]

    r = api.post(base, revision("web-2", None, -1))
    st = assert_status(r, 422, "Invalid")
    assert {(c["field"], c["reason"]) for c in st["details"]["causes"]} == {
        ("data", "FieldValueRequired"), ("revision", "FieldValueInvalid")}, st
    assert "data: Required value: data is mandatory" in st["message"]
    assert "revision: Invalid value: -1: must be greater than or equal to 0" in st["message"]

    # data is immutable; the revision number is not (controllers renumber a re-used revision)
    r = api.patch(f"{base}/web-1", {"data": {"other": 1}}, content_type=MERGE)
    st = assert_status(r, 422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "data" and st["message"].endswith("field is immutable"), st
    r = api.patch(f"{base}/web-1", {"revision": 7}, content_type=MERGE)
    assert r.status_code == 200 and r.json()["revision"] == 7, r.text
    r = api.delete(f"{base}/web-1")
    assert r.status_code == 200, r.text
    assert api.get(f"{base}/web-1").status_code == 404


def test_table_columns_and_cells(api, ns):
    base = f"/apis/apps/v1/namespaces/{ns}/controllerrevisions"
    api.create(base, revision("db-5c9d", {"spec": {}}, 4, owner=("StatefulSet", "db")))
    api.create(base, revision("loose", {"spec": {}}, 1))
    r = api.get(base, accept=TABLE_ACCEPT)
    assert r.status_code == 200, r.text
    t = r.json()
    assert [(c["name"], c["type"], c.get("priority", 0)) for c in t["columnDefinitions"]] == [
        ("Name", "string", 0), ("Controller", "string", 0), ("Revision", "string", 0), ("Age", "string", 0)]
    rows = {row["cells"][0]: row["cells"] for row in t["rows"]}
    assert rows["db-5c9d"][1:3] == ["statefulset.apps/db", 4]
    assert rows["loose"][1:3] == ["<none>", 1]


def test_openapi_serves_the_kind(api):
    doc = api.read("/openapi/v3/apis/apps/v1")
    assert "/apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}" in doc["paths"]
    assert "/apis/apps/v1/controllerrevisions" in doc["paths"]
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.ControllerRevision"]
    assert {"data", "revision", "metadata"} <= set(schema["properties"])
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "ControllerRevision", "version": "v1"}]


def test_statefulset_and_daemonset_keep_revisions(api, ns):
    """On the bare server (no nodes) the controllers still record each template as a revision."""
    apps = f"/apis/apps/v1/namespaces/{ns}"
    tmpl = {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "img:1"}]}}
    api.create(f"{apps}/statefulsets", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                        "metadata": {"name": "s", "annotations": {"kubernetes.io/change-cause": "v1"}},
                                        "spec": {"replicas": 1, "serviceName": "s", "selector": {"matchLabels": {"app": "s"}},
                                                 "template": tmpl}})

    def revs(owner):
        items = api.read(f"{apps}/controllerrevisions")["items"]
        return sorted((i for i in items if i["metadata"]["ownerReferences"][0]["name"] == owner),
                      key=lambda i: i["revision"])

    crs = wait_for(lambda: revs("s") or None, what="the StatefulSet's revision")
    cr = crs[0]
    h = cr["metadata"]["labels"]["controller-revision-hash"]
    assert cr["metadata"]["name"] == f"s-{h}" and cr["revision"] == 1
    assert cr["metadata"]["labels"]["app"] == "s"
    assert cr["metadata"]["annotations"] == {"kubernetes.io/change-cause": "v1"}
    ref = cr["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("StatefulSet", True, True)
    t = cr["data"]["spec"]["template"]
    assert list(cr["data"]) == ["spec"] and t["$patch"] == "replace"
    assert t["metadata"] == {"creationTimestamp": None, "labels": {"app": "s"}}
    assert t["spec"]["containers"][0]["resources"] == {} and t["spec"]["containers"][0]["image"] == "img:1"
    assert list(t) == sorted(t) and list(t["spec"]) == sorted(t["spec"]), "keys sorted, as Go marshals a map"
    sts = wait_for(lambda: (lambda s: s if s.get("status", {}).get("updateRevision") else None)(
        api.read(f"{apps}/statefulsets/s")), what="the StatefulSet status")
    assert sts["status"]["updateRevision"] == sts["status"]["currentRevision"] == cr["metadata"]["name"]
    pod = wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/s-0").ok and api.read(f"/api/v1/namespaces/{ns}/pods/s-0"),
                   what="pod s-0")
    assert pod["metadata"]["labels"]["controller-revision-hash"] == cr["metadata"]["name"]

    # a template change is a second revision; the StatefulSet's deletion takes its revisions along
    r = api.patch(f"{apps}/statefulsets/s", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}})
    assert r.status_code == 200, r.text
    wait_for(lambda: [c["revision"] for c in revs("s")] == [1, 2], what="a second revision")
    assert api.delete(f"{apps}/statefulsets/s").status_code == 200
    wait_for(lambda: not revs("s"), what="revisions garbage-collected with their StatefulSet")

    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
          "spec": {"selector": {"matchLabels": {"app": "s"}}, "template": tmpl}}
    api.create(f"{apps}/daemonsets", ds)
    crs = wait_for(lambda: revs("d") or None, what="the DaemonSet's revision")
    assert crs[0]["metadata"]["name"] == "d-" + crs[0]["metadata"]["labels"]["controller-revision-hash"]
    assert crs[0]["data"] == cr["data"], "the same template gives the same data"
