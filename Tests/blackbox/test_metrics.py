"""GET /metrics: the Prometheus text format, kube-apiserver's request/watch/storage metrics, client-go's
workqueue metrics and the EndpointSlice controller's metrics, checked by how much they move.

Each test starts its own kemu (a bare API server: no simulated nodes), so counts are exact."""

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import MERGE, Api, WatchStream, unique

CT = "text/plain; version=0.0.4; charset=utf-8"
QUEUES = ["endpoint_slice", "endpoint", "endpoint_slice_mirroring", "deployment", "replicaset", "statefulset",
          "daemonset", "disruption"]


def scrape(base):
    r = requests.get(base + "/metrics", timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"] == CT
    return r.text


def samples(text):
    """{(sample name, frozenset(labels)): value}, parsed by prometheus_client (it must accept every line)."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m, metric, /, **labels):
    return m.get((metric, frozenset(labels.items())), 0.0)


def total(m, metric, /, **labels):
    """The sum over every series of `metric` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == metric and want <= ls)


def req(verb, resource, code, scope, version="v1", group="", subresource="", dry_run=""):
    return dict(verb=verb, dry_run=dry_run, group=group, version=version, resource=resource,
                subresource=subresource, scope=scope, component="apiserver", code=str(code))


def poll(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    return pred()


@pytest.fixture
def kemu(kemu_factory):
    srv = kemu_factory()
    api = Api(srv.url)
    yield srv, api
    api.close()


def test_metrics_text_format_and_route(kemu):
    srv, api = kemu
    text = scrape(srv.url)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    # Upstream's names and types (the parser drops a counter's _total suffix from the family name).
    assert fams["apiserver_storage_objects"].type == "gauge"
    assert fams["workqueue_adds"].type == "counter"
    assert fams["workqueue_depth"].type == "gauge"
    assert fams["workqueue_work_duration_seconds"].type == "histogram"
    assert fams["workqueue_queue_duration_seconds"].type == "histogram"
    assert fams["etcd_requests"].type == "counter"
    # Every line is a comment or a sample; families are sorted by name, HELP before TYPE.
    names = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")]
    assert names == sorted(names)
    assert all(ln.startswith(("# HELP ", "# TYPE ")) or " " in ln for ln in text.splitlines())
    m = samples(text)
    for q in QUEUES:
        assert ("workqueue_adds_total", frozenset({("name", q)})) in m, q
        assert ("workqueue_retries_total", frozenset({("name", q)})) in m, q
    assert value(m, "apiserver_storage_objects", resource="namespaces") == 4
    assert value(m, "apiserver_storage_objects", resource="services") == 1
    assert value(m, "apiserver_storage_objects", resource="endpointslices.discovery.k8s.io") == 0
    assert ("apiserver_storage_objects", frozenset({("resource", "deployments.apps")})) in m

    assert requests.head(srv.url + "/metrics", timeout=10).status_code == 200
    assert api.post("/metrics").status_code == 405
    assert api.get("/metrics/extra").status_code == 404
    # /metrics is not an API resource: discovery and OpenAPI do not list it.
    for path in ["/api", "/apis", "/api/v1", "/openapi/v3"]:
        assert "metrics" not in api.get(path).text, path
    # The scrapes themselves are counted as non-resource requests.
    m = samples(scrape(srv.url))
    assert value(m, "apiserver_request_total", verb="GET", dry_run="", group="", version="", resource="",
                 subresource="/metrics", scope="", component="apiserver", code="200") >= 2


def test_request_counts_by_verb_resource_scope_and_code(kemu):
    srv, api = kemu
    ns = unique("m")
    m0 = samples(scrape(srv.url))
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    pods = f"/api/v1/namespaces/{ns}/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    for _ in range(2):
        assert api.get(pods + "/p").status_code == 404
    assert api.post(pods, pod).status_code == 201
    assert api.post(pods, pod).status_code == 409
    assert api.post(pods + "?dryRun=All", {**pod, "metadata": {"name": "q"}}).status_code == 201
    for _ in range(3):
        assert api.get(pods + "/p").status_code == 200
    assert api.get(pods).status_code == 200
    assert api.get("/api/v1/pods").status_code == 200
    assert api.patch(pods + "/p", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE).status_code == 200
    assert api.patch(pods + "/p/status", {"status": {"phase": "Running"}}, content_type=MERGE).status_code == 200
    assert api.delete(pods + "/p").status_code == 200
    assert api.get("/apis/apps/v1/namespaces/" + ns + "/deployments/none").status_code == 404
    assert api.get("/version").status_code == 200
    m1 = samples(scrape(srv.url))

    def d(**labels):
        return value(m1, "apiserver_request_total", **labels) - value(m0, "apiserver_request_total", **labels)

    assert d(**req("POST", "namespaces", 201, "resource")) == 1
    assert d(**req("GET", "pods", 404, "resource")) == 2
    assert d(**req("POST", "pods", 201, "resource")) == 1
    assert d(**req("POST", "pods", 409, "resource")) == 1
    assert d(**req("POST", "pods", 201, "resource", dry_run="All")) == 1
    assert d(**req("GET", "pods", 200, "resource")) == 3
    assert d(**req("LIST", "pods", 200, "namespace")) == 1
    assert d(**req("LIST", "pods", 200, "cluster")) == 1
    assert d(**req("PATCH", "pods", 200, "resource")) == 1
    assert d(**req("PATCH", "pods", 200, "resource", subresource="status")) == 1
    assert d(**req("DELETE", "pods", 200, "resource")) == 1
    assert d(**req("GET", "deployments", 404, "resource", group="apps")) == 1
    assert d(verb="GET", dry_run="", group="", version="", resource="", subresource="/version", scope="",
             component="apiserver", code="200") == 1
    # The duration histogram has one observation per request (no code label).
    lab = {k: v for k, v in req("GET", "pods", 0, "resource").items() if k != "code"}
    dur = (value(m1, "apiserver_request_duration_seconds_count", **lab)
           - value(m0, "apiserver_request_duration_seconds_count", **lab))
    assert dur == 5
    bucket_inf = (value(m1, "apiserver_request_duration_seconds_bucket", le="+Inf", **lab)
                  - value(m0, "apiserver_request_duration_seconds_bucket", le="+Inf", **lab))
    assert bucket_inf == 5
    # Store writes: the pod was created, updated twice and deleted (the dry run and the 409 wrote nothing).
    for op, n in [("create", 1), ("update", 2), ("delete", 1)]:
        got = (value(m1, "etcd_requests_total", operation=op, group="", resource="pods")
               - value(m0, "etcd_requests_total", operation=op, group="", resource="pods"))
        assert got == n, op


def test_watch_metrics_and_endpointslice_controller(kemu):
    srv, api = kemu
    ns = unique("w")
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    slices = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    m0 = samples(scrape(srv.url))
    w = WatchStream(srv.url, slices, params={"watch": "true"})
    watch_gauge = dict(verb="WATCH", group="discovery.k8s.io", version="v1", resource="endpointslices",
                       subresource="", scope="namespace", component="apiserver")
    assert poll(lambda: value(samples(scrape(srv.url)), "apiserver_longrunning_requests", **watch_gauge) == 1)

    api.create(f"/api/v1/namespaces/{ns}/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    _, ok = w.take_until(lambda ev: ev.get("type") == "ADDED", timeout=15)      # the placeholder slice
    assert ok, "no slice for the Service"
    api.create(f"/api/v1/namespaces/{ns}/pods",
               {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "labels": {"app": "web"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}})
    st = api.patch(f"/api/v1/namespaces/{ns}/pods/p1/status",
                   {"status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                               "conditions": [{"type": "Ready", "status": "True"}]}}, content_type=MERGE)
    assert st.status_code == 200
    _, ok = w.take_until(lambda ev: any("10.0.0.1" in (e.get("addresses") or [])
                                        for e in (ev.get("object") or {}).get("endpoints") or []), timeout=15)
    assert ok, "no slice event with the pod's address"
    w.drain(quiet=1.5, timeout=10)
    m1 = samples(scrape(srv.url))

    def d(metric, /, **labels):
        return value(m1, metric, **labels) - value(m0, metric, **labels)

    # Watch bytes, counted where they are queued, equal what the client read (each line and its newline).
    lines = list(w.raw_lines)
    sent = sum(len(ln) + 1 for ln in lines)
    assert sent > 0
    assert d("kemu_watch_sent_bytes_total", resource="endpointslices.discovery.k8s.io") == sent
    gvr = dict(group="discovery.k8s.io", version="v1", resource="endpointslices")
    assert d("apiserver_watch_events_total", **gvr) == len(lines)
    assert d("apiserver_watch_events_sizes_count", **gvr) == len(lines)
    assert d("apiserver_watch_events_sizes_sum", **gvr) == sent
    assert d("kemu_watch_sent_bytes_total", resource="endpoints") == 0     # nobody watches Endpoints

    # The EndpointSlice controller's queue and syncs. (prometheus_client names the samples of a counter
    # without the _total suffix, such as endpoint_slice_controller_syncs, with one.)
    assert d("workqueue_adds_total", name="endpoint_slice") >= 2           # the Service, then the pod
    assert d("workqueue_work_duration_seconds_count", name="endpoint_slice") >= 2
    assert value(m1, "workqueue_depth", name="endpoint_slice") == 0
    assert d("workqueue_adds_total", name="endpoint") >= 1
    assert d("endpoint_slice_controller_syncs_total", result="success") >= 2
    assert d("endpoint_slice_controller_changes_total", operation="create") == 1
    assert d("endpoint_slice_controller_changes_total", operation="update") >= 1
    assert value(m1, "endpoint_slice_controller_num_endpoint_slices") == 1
    assert value(m1, "endpoint_slice_controller_desired_endpoint_slices") == 1
    assert value(m1, "endpoint_slice_controller_endpoints_desired") == 1
    assert total(m1, "endpoint_slice_controller_endpointslices_changed_per_sync_count",
                 topology="Disabled", traffic_distribution="") >= 2
    assert d("etcd_requests_total", operation="create", group="discovery.k8s.io", resource="endpointslices") == 1
    assert value(m1, "apiserver_storage_objects", resource="endpointslices.discovery.k8s.io") == 1
    assert value(m1, "apiserver_storage_objects", resource="pods") == 1

    # A watch is a long-running request while open, and is counted (verb WATCH) when it ends. kemu notices a
    # client that left when a write to its socket fails (the second event after it left): deleting the
    # Service removes its slice, and a second Service adds one.
    before = total(m1, "apiserver_request_total", verb="WATCH", resource="endpointslices", code="200")
    w.close()
    assert api.delete(f"/api/v1/namespaces/{ns}/services/web").status_code == 200
    assert poll(lambda: value(samples(scrape(srv.url)), "endpoint_slice_controller_endpoints_desired") == 0)
    api.create(f"/api/v1/namespaces/{ns}/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web2"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 81}]}})
    assert poll(lambda: value(samples(scrape(srv.url)), "apiserver_longrunning_requests", **watch_gauge) == 0,
                timeout=15)
    m2 = samples(scrape(srv.url))
    assert total(m2, "apiserver_request_total", verb="WATCH", resource="endpointslices", scope="namespace",
                 code="200") == before + 1
    assert total(m2, "apiserver_request_duration_seconds_count", verb="WATCH", resource="endpointslices") >= 1

    # Service gone: the controller forgets it.
    assert api.delete(f"/api/v1/namespaces/{ns}/services/web2").status_code == 200
    assert poll(lambda: value(samples(scrape(srv.url)), "endpoint_slice_controller_endpoints_desired") == 0)
    m3 = samples(scrape(srv.url))
    assert value(m3, "endpoint_slice_controller_num_endpoint_slices") == 0
    assert value(m3, "endpoint_slice_controller_desired_endpoint_slices") == 0
