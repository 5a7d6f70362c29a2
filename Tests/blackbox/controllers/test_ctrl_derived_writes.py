"""`--derived-writes reject|warn|allow`: client writes to objects kemu's controllers keep.

* reject (default): create/update/patch/delete of a controller-managed EndpointSlice (managed-by
  endpointslice-controller.k8s.io) or of the Endpoints of a Service with a selector → 403
  Forbidden Status naming the controller and the objects to change instead (the Service, its
  Pods).
* warn: accepted as upstream accepts it, with a `Warning: 299 - "..."` header (kubectl prints
  `Warning: ...` on stderr); the controller then reconciles the object back.
* allow: accepted silently; the controller still reconciles managed objects back.

Writes to custom slices (another or no managed-by label) and to the Endpoints of selectorless
Services stay allowed, without warning, in every mode.  Each mode is exercised with the official
Python client and with kubectl.
"""

import json
import re

import pytest
import yaml

from scenlib import (ALLOW, MANAGED_BY, MERGE, SERVICE_NAME, SLICE_CTRL, WARN, by_pod, endpoint_count, labels,
                     subsets_view)

WEB_PORTS = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]
SLICE_CTRL_RE = re.compile(r"endpointslice-controller")
EP_CTRL_RE = re.compile(r"endpoints?[- ]controller", re.I)


def setup_web(env):
    env.node("node-1")
    env.pod("web-0", labels={"app": "web"}, ip="10.0.1.1")
    env.pod("web-1", labels={"app": "web"}, ip="10.0.1.2")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    [s] = env.wait_endpoint_count("web", 2)
    ep = env.wait_endpoints("web", lambda ep: ep is not None and len(subsets_view(ep)) == 1)
    return s, ep


def check_forbidden_body(body, env, resource, name, controller_re):
    st = json.loads(body) if isinstance(body, (str, bytes)) else body
    assert st.get("kind") == "Status" and st.get("apiVersion") == "v1", st
    assert st.get("status") == "Failure" and st.get("code") == 403 and st.get("reason") == "Forbidden", st
    msg = st.get("message", "")
    if name:
        assert msg.startswith(f'{resource} "{name}" is forbidden: '), msg
        details = st.get("details") or {}
        assert details.get("name") == name, st
        assert details.get("kind") == resource.split(".")[0], st
        assert details.get("group", "") == (resource.split(".", 1)[1] if "." in resource else ""), st
    else:
        assert " is forbidden: " in msg, msg
    assert controller_re.search(msg), f"message must name the controller: {msg}"
    assert f"Service {env.ns}/web" in msg, f"message must name the Service to change instead: {msg}"
    assert re.search(r"\bPods?\b", msg), f"message must name the Pods to change instead: {msg}"
    return msg


def warning_texts(headers):
    vals = [v for k, v in (headers.items() if hasattr(headers, "items") else headers) if k.lower() == "warning"]
    out = []
    for v in vals:
        for m in re.finditer(r'299 - "((?:[^"\\]|\\.)*)"', v):
            out.append(m.group(1))
        assert re.match(r'^299 - "', v), f"Warning header not in RFC 7234 form: {v!r}"
    return out


def custom_slice(name, managed_by=None, ip="10.7.0.1"):
    lb = {SERVICE_NAME: "web"}
    if managed_by:
        lb[MANAGED_BY] = managed_by
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": lb}, "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


def selectorless_endpoints(name="ext", ip="10.8.0.1"):
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}


# ---------------------------------------------------------------------------
# reject
# ---------------------------------------------------------------------------

def test_reject_python_client(env):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    s, ep = setup_web(env)
    disc, core = client.DiscoveryV1Api(env.k8s()), client.CoreV1Api(env.k8s())
    name = s["metadata"]["name"]
    m = env.mark()

    def forbidden(call, resource, obj_name, ctrl_re):
        with pytest.raises(ApiException) as ei:
            call()
        assert ei.value.status == 403, ei.value
        check_forbidden_body(ei.value.body, env, resource, obj_name, ctrl_re)

    sl = "endpointslices.discovery.k8s.io"
    forbidden(lambda: disc.patch_namespaced_endpoint_slice(name, env.ns, {"metadata": {"labels": {"x": "y"}}},
                                                           _content_type=MERGE), sl, name, SLICE_CTRL_RE)
    model = disc.read_namespaced_endpoint_slice(name, env.ns)
    model.metadata.labels["x"] = "y"
    forbidden(lambda: disc.replace_namespaced_endpoint_slice(name, env.ns, model), sl, name, SLICE_CTRL_RE)
    forbidden(lambda: disc.delete_namespaced_endpoint_slice(name, env.ns), sl, name, SLICE_CTRL_RE)
    forged = client.V1EndpointSlice(
        api_version="discovery.k8s.io/v1", kind="EndpointSlice",
        metadata=client.V1ObjectMeta(name="web-forged", labels={SERVICE_NAME: "web", MANAGED_BY: SLICE_CTRL}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["10.9.9.9"], conditions=client.V1EndpointConditions(ready=True))],
        ports=[client.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")])
    forbidden(lambda: disc.create_namespaced_endpoint_slice(env.ns, forged), sl, "web-forged", SLICE_CTRL_RE)

    forbidden(lambda: core.patch_namespaced_endpoints("web", env.ns, {"metadata": {"labels": {"x": "y"}}},
                                                      _content_type=MERGE), "endpoints", "web", EP_CTRL_RE)
    epm = core.read_namespaced_endpoints("web", env.ns)
    epm.subsets[0].addresses = [client.V1EndpointAddress(ip="10.9.9.9")]
    forbidden(lambda: core.replace_namespaced_endpoints("web", env.ns, epm), "endpoints", "web", EP_CTRL_RE)
    forbidden(lambda: core.delete_namespaced_endpoints("web", env.ns), "endpoints", "web", EP_CTRL_RE)

    env.settle()
    assert env.slice_writes(m, "web") == {}
    assert env.endpoints_writes(m, "web") == {}
    assert env.slices("web")[0]["metadata"]["resourceVersion"] == s["metadata"]["resourceVersion"]
    assert env.endpoints("web")["metadata"]["resourceVersion"] == ep["metadata"]["resourceVersion"]


def test_reject_kubectl(env):
    s, ep = setup_web(env)
    name = s["metadata"]["name"]
    m = env.mark()
    for args, ctrl_re in ((("label", "endpointslice", name, "x=y"), SLICE_CTRL_RE),
                          (("delete", "endpointslice", name), SLICE_CTRL_RE),
                          (("annotate", "endpoints", "web", "a=b"), EP_CTRL_RE),
                          (("delete", "endpoints", "web"), EP_CTRL_RE)):
        p = env.kubectl(*args)
        assert p.returncode != 0, f"kubectl {' '.join(args)} must fail: {p.stdout} {p.stderr}"
        assert p.stderr.startswith("Error from server (Forbidden): "), p.stderr
        assert ctrl_re.search(p.stderr), p.stderr
        assert f"Service {env.ns}/web" in p.stderr, p.stderr
    forged = yaml.safe_dump(custom_slice("web-forged", managed_by=SLICE_CTRL))
    p = env.kubectl("create", "-f", "-", input=forged)
    assert p.returncode != 0 and "Error from server (Forbidden)" in p.stderr, (p.stdout, p.stderr)
    env.settle()
    assert env.slice_writes(m, "web") == {}
    assert env.endpoints_writes(m, "web") == {}


def custom_writes_python(env, warn_expected=False):
    """Custom slices and selectorless Endpoints: create / patch / delete, all accepted, no warning."""
    from kubernetes import client

    disc, core = client.DiscoveryV1Api(env.k8s()), client.CoreV1Api(env.k8s())
    env.create_service("ext", ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    for name, mb in (("web-custom", None), ("web-other", "my-controller.example.com")):
        obj = client.V1EndpointSlice(
            api_version="discovery.k8s.io/v1", kind="EndpointSlice",
            metadata=client.V1ObjectMeta(name=name, labels={k: v for k, v in
                                                            {SERVICE_NAME: "web", MANAGED_BY: mb}.items() if v}),
            address_type="IPv4",
            endpoints=[client.V1Endpoint(addresses=["10.7.0.1"], conditions=client.V1EndpointConditions(ready=True))],
            ports=[client.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")])
        _, code, h = disc.create_namespaced_endpoint_slice_with_http_info(env.ns, obj)
        assert code == 201 and warning_texts(h) == [], (code, h)
        _, code, h = disc.patch_namespaced_endpoint_slice_with_http_info(
            name, env.ns, {"metadata": {"labels": {"x": "y"}}}, _content_type=MERGE)
        assert code == 200 and warning_texts(h) == [], (code, h)
        _, code, h = disc.delete_namespaced_endpoint_slice_with_http_info(name, env.ns)
        assert code == 200 and warning_texts(h) == [], (code, h)
    body = client.V1Endpoints(api_version="v1", kind="Endpoints", metadata=client.V1ObjectMeta(name="ext"),
                              subsets=[client.V1EndpointSubset(
                                  addresses=[client.V1EndpointAddress(ip="10.8.0.1")],
                                  ports=[client.CoreV1EndpointPort(name="http", port=8080, protocol="TCP")])])
    _, code, h = core.create_namespaced_endpoints_with_http_info(env.ns, body)
    assert code == 201 and warning_texts(h) == [], (code, h)
    _, code, h = core.patch_namespaced_endpoints_with_http_info("ext", env.ns, {"metadata": {"labels": {"x": "y"}}},
                                                                 _content_type=MERGE)
    assert code == 200 and warning_texts(h) == [], (code, h)
    _, code, h = core.delete_namespaced_endpoints_with_http_info("ext", env.ns)
    assert code == 200 and warning_texts(h) == [], (code, h)


def custom_writes_kubectl(env):
    env.create_service("ext2", ports=[{"name": "http", "port": 80, "targetPort": 8080}])
    docs = [custom_slice("web-kcustom"), custom_slice("web-kother", managed_by="my-controller.example.com"),
            selectorless_endpoints("ext2")]
    for doc in docs:
        kind = "endpointslice" if doc["kind"] == "EndpointSlice" else "endpoints"
        n = doc["metadata"]["name"]
        for args, inp in ((("create", "-f", "-"), yaml.safe_dump(doc)),
                          (("label", kind, n, "x=y"), None),
                          (("delete", kind, n), None)):
            p = env.kubectl(*args, input=inp)
            assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stdout} {p.stderr}"
            assert "Warning:" not in p.stderr, p.stderr


def test_reject_mode_allows_custom_writes(env):
    setup_web(env)
    custom_writes_python(env)
    custom_writes_kubectl(env)


# ---------------------------------------------------------------------------
# warn
# ---------------------------------------------------------------------------

def test_warn_python_client(make_env):
    from kubernetes import client

    env = make_env(*WARN)
    s, ep = setup_web(env)
    disc, core = client.DiscoveryV1Api(env.k8s()), client.CoreV1Api(env.k8s())
    name = s["metadata"]["name"]
    desired = by_pod([s])

    data, code, h = disc.patch_namespaced_endpoint_slice_with_http_info(
        name, env.ns, {"metadata": {"labels": {"mine": "x"}}}, _content_type=MERGE)
    assert code == 200 and data.metadata.labels.get("mine") == "x"
    ws = warning_texts(h)
    assert ws and SLICE_CTRL_RE.search(ws[0]) and f"Service {env.ns}/web" in ws[0], h
    env.await_rv(data.metadata.resource_version)
    env.wait_slices("web", lambda ss: len(ss) == 1 and "mine" not in labels(ss[0]), "label reconciled back")

    forged = client.V1EndpointSlice(
        api_version="discovery.k8s.io/v1", kind="EndpointSlice",
        metadata=client.V1ObjectMeta(name="web-forged", labels={SERVICE_NAME: "web", MANAGED_BY: SLICE_CTRL}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["10.9.9.9"], conditions=client.V1EndpointConditions(ready=True))],
        ports=[client.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")])
    data, code, h = disc.create_namespaced_endpoint_slice_with_http_info(env.ns, forged)
    assert code == 201 and warning_texts(h), h
    env.await_rv(data.metadata.resource_version)
    env.wait_slices("web", lambda ss: [x["metadata"]["name"] for x in ss] == [name], "forged slice removed")

    _, code, h = core.delete_namespaced_endpoints_with_http_info("web", env.ns)
    assert code == 200
    ws = warning_texts(h)
    assert ws and EP_CTRL_RE.search(ws[0]) and f"Service {env.ns}/web" in ws[0], h
    env.wait_endpoints("web", lambda e: e is not None and e["metadata"]["uid"] != ep["metadata"]["uid"]
                       and subsets_view(e) == subsets_view(ep), "Endpoints recreated")

    epm = core.read_namespaced_endpoints("web", env.ns)
    epm.subsets[0].addresses = [client.V1EndpointAddress(ip="10.9.9.9")]
    data, code, h = core.replace_namespaced_endpoints_with_http_info("web", env.ns, epm)
    assert code == 200 and warning_texts(h), h
    env.await_rv(data.metadata.resource_version, watch="endpoints")
    # the Endpoints controller reacts to Service/Pod changes: touch the Service to make it sync
    env.patch_service("web", {"metadata": {"annotations": {"touch": "1"}}})
    env.wait_endpoints("web", lambda e: e is not None and subsets_view(e) == subsets_view(ep), "Endpoints restored")
    env.wait_slices("web", lambda ss: len(ss) == 1 and by_pod(ss) == desired)

    custom_writes_python(env)


def test_warn_kubectl(make_env):
    env = make_env(*WARN)
    s, ep = setup_web(env)
    name = s["metadata"]["name"]
    p = env.kubectl("delete", "endpointslice", name)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^Warning: .*endpointslice-controller", p.stderr, re.M), p.stderr
    env.wait_slices("web", lambda ss: len(ss) == 1 and endpoint_count(ss) == 2
                    and ss[0]["metadata"]["name"] != name, "slice recreated")
    p = env.kubectl("label", "endpoints", "web", "mine=x", "-o", "json")
    assert p.returncode == 0, p.stderr
    # kubectl label -o json prints the object as it read it before patching (its resourceVersion is the old one),
    # so wait for the label itself to arrive on the watch.
    env.wait(lambda: any(o["metadata"]["name"] == "web" and "mine" in labels(o) for _, o in env.ew.events),
             "label written", quiet=False)
    assert re.search(r"^Warning: .*endpoints?[- ]controller", p.stderr, re.M | re.I), p.stderr
    env.patch_service("web", {"metadata": {"annotations": {"touch": "1"}}})
    env.wait_endpoints("web", lambda e: e is not None and "mine" not in labels(e), "Endpoints label reconciled")
    custom_writes_kubectl(env)


# ---------------------------------------------------------------------------
# allow
# ---------------------------------------------------------------------------

def test_allow_python_client(make_env):
    from kubernetes import client

    env = make_env(*ALLOW)
    s, ep = setup_web(env)
    disc, core = client.DiscoveryV1Api(env.k8s()), client.CoreV1Api(env.k8s())
    name = s["metadata"]["name"]
    desired = by_pod([s])
    model = disc.read_namespaced_endpoint_slice(name, env.ns)
    model.endpoints = [client.V1Endpoint(addresses=["10.9.9.9"], conditions=client.V1EndpointConditions(ready=True))]
    data, code, h = disc.replace_namespaced_endpoint_slice_with_http_info(name, env.ns, model)
    assert code == 200 and warning_texts(h) == [], h
    assert [e.addresses for e in data.endpoints] == [["10.9.9.9"]]
    env.await_rv(data.metadata.resource_version)
    env.wait_slices("web", lambda ss: len(ss) == 1 and by_pod(ss) == desired, "endpoints reconciled back")

    _, code, h = core.delete_namespaced_endpoints_with_http_info("web", env.ns)
    assert code == 200 and warning_texts(h) == [], h
    env.wait_endpoints("web", lambda e: e is not None and e["metadata"]["uid"] != ep["metadata"]["uid"]
                       and subsets_view(e) == subsets_view(ep), "Endpoints recreated")
    custom_writes_python(env)


def test_allow_kubectl(make_env):
    env = make_env(*ALLOW)
    s, ep = setup_web(env)
    name = s["metadata"]["name"]
    p = env.kubectl("label", "endpointslice", name, "mine=x", "-o", "json")
    assert p.returncode == 0 and "Warning:" not in p.stderr, p.stderr
    # kubectl label -o json prints the object as read before patching: wait for the label on the watch instead.
    env.wait(lambda: any(o["metadata"]["name"] == name and "mine" in labels(o) for _, o in env.sw.events),
             "label written", quiet=False)
    env.wait_slices("web", lambda ss: len(ss) == 1 and "mine" not in labels(ss[0]), "label reconciled back")
    p = env.kubectl("delete", "endpointslice", name)
    assert p.returncode == 0 and "Warning:" not in p.stderr, p.stderr
    env.wait_slices("web", lambda ss: len(ss) == 1 and endpoint_count(ss) == 2
                    and ss[0]["metadata"]["name"] != name, "slice recreated")
    custom_writes_kubectl(env)
