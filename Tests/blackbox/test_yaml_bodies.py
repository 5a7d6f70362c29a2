"""YAML request bodies (Content-Type: application/yaml) are read as the JSON they stand for."""

import json

from helpers import assert_status, curl

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web, tier: "1"}}
  annotations:
    enabled: "yes"
spec:
  containers:
  - name: app
    image: nginx:1.27
    ports:
    - containerPort: 0x1f90   # 8080, a YAML 1.1 integer
"""


def test_create_and_replace_from_yaml(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data=POD_YAML.format(name="y1"), content_type="application/yaml")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["metadata"]["labels"] == {"app": "web", "tier": "1"}
    assert created["metadata"]["annotations"] == {"enabled": "yes"}
    assert created["spec"]["containers"][0]["ports"][0]["containerPort"] == 8080
    assert created["spec"]["containers"][0]["terminationMessagePath"] == "/dev/termination-log", "defaults applied"

    # JSON is YAML too (flow style): the stored object with one label changed.
    created["metadata"]["labels"]["tier"] = "2"
    r = api.request("PUT", f"/api/v1/namespaces/{ns}/pods/y1", data=json.dumps(created, indent=1), content_type="application/yaml")
    assert r.status_code == 200, r.text
    assert api.read(f"/api/v1/namespaces/{ns}/pods/y1")["metadata"]["labels"]["tier"] == "2"


def test_yaml_with_curl(server, ns):
    code, out = curl("-X", "POST", "-H", "Content-Type: application/yaml", "--data-binary",
                     POD_YAML.format(name="y2"), f"{server.url}/api/v1/namespaces/{ns}/pods")
    assert code == 201, out
    assert json.loads(out)["metadata"]["name"] == "y2"


def test_malformed_yaml_is_400_naming_the_line(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data="apiVersion: v1\nkind: Pod\nmetadata: [\n",
                    content_type="application/yaml")
    st = assert_status(r, 400, "BadRequest")
    assert "error converting YAML to JSON: yaml: line" in st["message"], st["message"]
    assert api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"] == []


def test_yaml_that_is_not_an_object_is_rejected(api, ns):
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data="- a\n- b\n", content_type="application/yaml")
    st = assert_status(r, 400, "BadRequest")
    assert "cannot unmarshal array" in st["message"], st["message"]


def test_wrong_kind_in_yaml_is_rejected_like_json(api, ns):
    body = POD_YAML.format(name="y3").replace("kind: Pod", "kind: Service")
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", data=body, content_type="application/yaml")
    assert r.status_code == 400, r.text
    assert r.json()["kind"] == "Status"
