"""Events the simulated cluster's controllers record (`kemu serve --nodes 3`), seen through kubectl get and describe,
the Python client and a watch, as on a real cluster."""

import re

import pytest
from kubernetes import client

from clusterlib import APPS, live_pods, workload
from helpers import WatchStream, wait_for

EVENTS = "/api/v1/namespaces/default/events"


def rows(stdout):
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def env(make_cluster, kubectl_for):
    srv, api = make_cluster()
    return srv, api, kubectl_for(srv)


def deploy(api, name="web", replicas=3):
    api.create(f"{APPS}/deployments", workload("Deployment", name, replicas=replicas))
    wait_for(lambda: api.read(f"{APPS}/deployments/{name}").get("status", {}).get("availableReplicas") == replicas,
             timeout=30, what=f"{replicas} available")
    rs = api.read(f"{APPS}/replicasets", params={"labelSelector": f"app={name}"})["items"][0]["metadata"]["name"]
    pods = sorted(p["metadata"]["name"] for p in live_pods(api, name))
    # Events are written off the controllers' queues: wait until the expected ones are there.
    wait_for(lambda: len(api.read(EVENTS, params={"fieldSelector": "reason=Scheduled"})["items"]) >= replicas
             and len(api.read(EVENTS, params={"fieldSelector": f"involvedObject.name={rs}"})["items"]) == replicas,
             timeout=10, what="the workload's events")
    return rs, pods


def test_kubectl_get_events_after_a_deployment(env):
    _, api, kubectl = env
    rs, pods = deploy(api)
    p = kubectl.run("get", "events", check=True)
    table = rows(p.stdout)
    assert table[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    got = {(r[1], r[2], r[3], r[4]) for r in table[1:]}
    assert ("Normal", "ScalingReplicaSet", "deployment/web", f"Scaled up replica set {rs} from 0 to 3") in got
    for pod in live_pods(api, "web"):
        name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
        assert ("Normal", "SuccessfulCreate", f"replicaset/{rs}", f"Created pod: {name}") in got
        assert ("Normal", "Scheduled", f"pod/{name}", f"Successfully assigned default/{name} to {node}") in got
    for r in table[1:]:
        assert re.match(r"^\d+s$", r[0]), r  # LAST SEEN: seconds ago
    # The nodes registered with the node controller (node events go to "default").
    assert {("Normal", "RegisteredNode", f"node/kemu-node-{i}",
             f"Node kemu-node-{i} event: Registered Node kemu-node-{i} in Controller") for i in (1, 2, 3)} <= got

    wide = rows(kubectl.run("get", "events", "-o", "wide", "--field-selector", "reason=ScalingReplicaSet", check=True).stdout)
    assert wide[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]
    assert len(wide) == 2, wide
    row = wide[1]
    # SUBOBJECT is empty, so splitting on runs of spaces joins it with its neighbours.
    assert row[1:6] == ["Normal", "ScalingReplicaSet", "deployment/web", "deployment-controller",
                        f"Scaled up replica set {rs} from 0 to 3"], row
    assert row[-2] == "1" and re.match(r"^web\.[0-9a-f]{16}$", row[-1]), row

    sched = rows(kubectl.run("get", "ev", "--field-selector", "reason=Scheduled", "-o", "name", check=True).stdout)
    assert len(sched) == 3


def test_describe_shows_the_events(env):
    _, api, kubectl = env
    rs, pods = deploy(api)
    out = kubectl.run("describe", "deployment", "web", check=True).stdout
    events = out[out.index("Events:"):]
    lines = events.splitlines()
    assert re.split(r"\s{2,}", lines[1].strip()) == ["Type", "Reason", "Age", "From", "Message"], events
    assert re.search(rf"Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set {rs} from 0 to 3",
                     events), events

    pod = live_pods(api, "web")[0]
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    out = kubectl.run("describe", "pod", name, check=True).stdout
    events = out[out.index("Events:"):]
    assert re.search(rf"Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default/{name} to {node}",
                     events), events

    out = kubectl.run("describe", "replicaset", rs, check=True).stdout
    events = out[out.index("Events:"):]
    assert len(re.findall(rf"Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: {rs}-", events)) == 3, events

    out = kubectl.run("describe", "node", "kemu-node-1", check=True).stdout
    assert re.search(r"Normal\s+RegisteredNode\s+\S+\s+node-controller\s+Node kemu-node-1 event: Registered Node kemu-node-1 in Controller",
                     out[out.index("Events:"):]), out


def test_python_client_and_watch(env):
    srv, api, _ = env
    rv = api.read(EVENTS)["metadata"]["resourceVersion"]
    w = WatchStream(srv.url, EVENTS, {"watch": "true", "resourceVersion": rv, "fieldSelector": "source=replicaset-controller"})
    try:
        rs, pods = deploy(api, "api", 2)
        evs = w.take(2, timeout=10)
        assert [(e["type"], e["object"]["reason"]) for e in evs] == [("ADDED", "SuccessfulCreate")] * 2
        assert {e["object"]["message"] for e in evs} == {f"Created pod: {p}" for p in pods}
    finally:
        w.close()
    with client.ApiClient(client.Configuration(host=srv.url)) as c:
        core = client.CoreV1Api(c)
        lst = core.list_namespaced_event("default", field_selector=f"involvedObject.name={rs}")
        assert sorted(e.message for e in lst.items) == sorted(f"Created pod: {p}" for p in pods)
        for e in lst.items:
            assert (e.type, e.reason, e.count, e.source.component, e.reporting_component) == (
                "Normal", "SuccessfulCreate", 1, "replicaset-controller", "replicaset-controller")
            assert (e.involved_object.kind, e.involved_object.api_version) == ("ReplicaSet", "apps/v1")
            assert e.first_timestamp == e.last_timestamp and e.first_timestamp is not None
            assert e.metadata.name.startswith(rs + ".")


def test_scaling_a_replica_set_up_leaves_a_bounded_number_of_events(env):
    _, api, _ = env
    rs, _ = deploy(api, "many", 1)
    r = api.patch(f"{APPS}/deployments/many/scale", {"spec": {"replicas": 40}},
                  content_type="application/merge-patch+json")
    assert r.status_code == 200, r.text
    wait_for(lambda: len(live_pods(api, "many")) == 40, timeout=30, what="40 pods")

    def about_rs():
        return api.read(EVENTS, params={"fieldSelector": f"involvedObject.name={rs}"})["items"]
    # 1 + 39 creations: nine single events, then one "(combined from similar events)" event counting the rest
    # until the object's budget of 25 writes is spent.
    wait_for(lambda: any(e["message"].startswith("(combined from similar events): Created pod: ") for e in about_rs()),
             timeout=10, what="the combined event")
    evs = about_rs()
    assert len(evs) == 10, [e["message"] for e in evs]
    combined = [e for e in evs if e["message"].startswith("(combined")]
    assert len(combined) == 1
    wait_for(lambda: [e["count"] for e in about_rs() if e["message"].startswith("(combined")] == [16], timeout=10,
             what="the combined event's count to reach 16")
