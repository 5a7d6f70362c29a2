"""PodDisruptionBudgets (policy/v1) and the eviction subresource honouring them."""

from helpers import MERGE, assert_status, pod, wait_for


def ready(api, ns, name, ip):
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/{name}/status",
                  {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                              "conditions": [{"type": "Ready", "status": "True"}]}}, content_type=MERGE)
    assert r.status_code == 200, r.text


def pdb(name, app, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": dict(selector={"matchLabels": {"app": app}}, **spec)}


def evict(api, ns, name):
    return api.post(f"/api/v1/namespaces/{ns}/pods/{name}/eviction",
                    {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}})


def budget(api, ns, name):
    return api.read(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}")["status"]


def test_status_counts_healthy_pods_and_allowed_disruptions(api, ns):
    api.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb("web", "web", minAvailable=2))
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(f"web-{i}", labels={"app": "web"}))
        ready(api, ns, f"web-{i}", f"10.9.0.{i + 1}")
    wait_for(lambda: budget(api, ns, "web").get("currentHealthy") == 3, what="budget status")
    st = budget(api, ns, "web")
    assert (st["expectedPods"], st["desiredHealthy"], st["disruptionsAllowed"]) == (3, 2, 1)
    assert st["conditions"][0]["type"] == "DisruptionAllowed" and st["conditions"][0]["status"] == "True"


def test_eviction_blocked_with_429_when_budget_exhausted(api, ns):
    # minAvailable, not maxUnavailable: for pods without a controller the expected count is the pods present.
    api.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb("db", "db", minAvailable=1))
    for i in range(2):
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(f"db-{i}", labels={"app": "db"}))
        ready(api, ns, f"db-{i}", f"10.9.1.{i + 1}")
    wait_for(lambda: budget(api, ns, "db").get("disruptionsAllowed") == 1, what="one disruption allowed")
    r = evict(api, ns, "db-0")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "Success"
    assert api.get(f"/api/v1/namespaces/{ns}/pods/db-0").status_code == 404
    r = evict(api, ns, "db-1")
    st = assert_status(r, 429, "TooManyRequests", message="Cannot evict pod as it would violate the pod's disruption budget.")
    assert st["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert r.headers.get("Retry-After") == "10"
    assert api.get(f"/api/v1/namespaces/{ns}/pods/db-1").status_code == 200


def test_unready_pod_evicted_when_budget_is_healthy(api, ns):
    api.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb("q", "q", minAvailable=1))
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("q-ready", labels={"app": "q"}))
    ready(api, ns, "q-ready", "10.9.2.1")
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("q-pending", labels={"app": "q"}))
    wait_for(lambda: budget(api, ns, "q").get("currentHealthy") == 1, what="budget status")
    assert budget(api, ns, "q")["disruptionsAllowed"] == 0
    r = evict(api, ns, "q-pending")
    assert r.status_code == 201, r.text


def test_pdb_validation_and_table(api, ns, kubectl):
    r = api.post(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb("bad", "x", minAvailable=1, maxUnavailable=1))
    assert_status(r, 422, "Invalid", message_contains="minAvailable and maxUnavailable cannot be both set")
    api.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb("shown", "x", minAvailable="50%"))
    p = kubectl.run("get", "pdb", "-n", ns, check=True)
    header, row = p.stdout.splitlines()[0].split(), p.stdout.splitlines()[1].split()
    assert header == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    assert row[:4] == ["shown", "50%", "N/A", "0"]
