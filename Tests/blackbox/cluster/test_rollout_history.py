"""`kubectl rollout history` and `kubectl rollout undo` on the simulated cluster: StatefulSets and DaemonSets
through ControllerRevisions, Deployments through their ReplicaSets."""

import pytest

from clusterlib import APPS, live_pods, wait_rollout, workload

CAUSE = "kubernetes.io/change-cause"


@pytest.fixture
def env(make_cluster, kubectl_for):
    srv, api = make_cluster()
    return api, kubectl_for(srv)


def create(api, kind, name, **spec):
    obj = workload(kind, name, **spec)
    obj["metadata"]["annotations"] = {CAUSE: "create"}
    api.create(f"{APPS}/{kind.lower()}s", obj)


def change_image(api, kind, name, image):
    r = api.patch(f"{APPS}/{kind.lower()}s/{name}", {"metadata": {"annotations": {CAUSE: f"image {image}"}},
                                                     "spec": {"template": {"spec": {"containers": [
                                                         {"name": "app", "image": image}]}}}})
    assert r.status_code == 200, r.text


def history(kubectl, ref, *args):
    p = kubectl.run("rollout", "history", ref, *args)
    assert p.returncode == 0, p.stderr
    return p.stdout


def table(lines):
    return "".join(f"{rev:<10}{cause}\n" for rev, cause in lines)


def undo(kubectl, ref, *args):
    p = kubectl.run("rollout", "undo", ref, *args)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.mark.parametrize("kind,res", [("StatefulSet", "statefulset"), ("DaemonSet", "daemonset")])
def test_history_and_undo_through_controller_revisions(env, kind, res):
    api, kubectl = env
    ref = f"{res}/web"
    create(api, kind, "web", **({"replicas": 3, "serviceName": "web"} if kind == "StatefulSet" else {}))
    wait_rollout(kubectl, ref)
    change_image(api, kind, "web", "nginx:1.28")
    wait_rollout(kubectl, ref)
    assert history(kubectl, ref) == f"{res}.apps/web \n" + table(
        [("REVISION", "CHANGE-CAUSE"), (1, "create"), (2, "image nginx:1.28")]) + "\n"

    p = kubectl.run("get", "controllerrevisions", "-l", "app=web", "--sort-by=.revision")
    assert p.returncode == 0, p.stderr
    rows = [line.split() for line in p.stdout.splitlines()]
    assert rows[0] == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert [r[1:3] for r in rows[1:]] == [[f"{res}.apps/web", "1"], [f"{res}.apps/web", "2"]], p.stdout
    first, second = rows[1][0], rows[2][0]

    # undo: the first template comes back as revision 3 (the same ControllerRevision, renumbered)
    assert undo(kubectl, ref) == f"{res}.apps/web rolled back"
    wait_rollout(kubectl, ref)
    assert history(kubectl, ref) == f"{res}.apps/web \n" + table(
        [("REVISION", "CHANGE-CAUSE"), (2, "image nginx:1.28"), (3, "create")]) + "\n"
    crs = {c["metadata"]["name"]: c["revision"] for c in api.read(f"{APPS}/controllerrevisions")["items"]}
    assert crs == {first: 3, second: 2}
    obj = api.read(f"{APPS}/{res}s/web")
    assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    label = first if kind == "StatefulSet" else first.removeprefix("web-")
    pods = live_pods(api, "web")
    assert len(pods) == 3 and all(p["spec"]["containers"][0]["image"] == "nginx:1.27" and
                                  p["metadata"]["labels"]["controller-revision-hash"] == label for p in pods), \
        [(p["metadata"]["name"], p["spec"]["containers"][0]["image"], p["metadata"]["labels"]) for p in pods]
    if kind == "StatefulSet":
        assert obj["status"]["currentRevision"] == obj["status"]["updateRevision"] == first

    # the stored data is what kubectl computes from the object, so it sees the template already matches
    assert undo(kubectl, ref, "--to-revision=3") == \
        f"{res}.apps/web skipped rollback (current template already matches revision 3)"
    out = history(kubectl, ref, "--revision=2")
    assert out.startswith(f"{res}.apps/web with revision #2\nPod Template:\n") and "Image:\tnginx:1.28" in out, out
    p = kubectl.run("rollout", "undo", ref, "--to-revision=9")
    assert p.returncode != 0 and "unable to find specified revision 9 in history" in p.stderr, p.stderr


def test_deployment_history_and_undo_through_replicasets(env):
    api, kubectl = env
    create(api, "Deployment", "web", replicas=2)
    wait_rollout(kubectl, "deployment/web")
    change_image(api, "Deployment", "web", "nginx:1.28")
    wait_rollout(kubectl, "deployment/web")
    assert history(kubectl, "deployment/web") == "deployment.apps/web \n" + table(
        [("REVISION", "CHANGE-CAUSE"), (1, "create"), (2, "image nginx:1.28")]) + "\n"
    assert undo(kubectl, "deployment/web") == "deployment.apps/web rolled back"
    wait_rollout(kubectl, "deployment/web")
    assert history(kubectl, "deployment/web") == "deployment.apps/web \n" + table(
        [("REVISION", "CHANGE-CAUSE"), (2, "image nginx:1.28"), (3, "create")]) + "\n"
    dep = api.read(f"{APPS}/deployments/web")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert dep["metadata"]["annotations"][CAUSE] == "create"
    rs = {r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: r for r in
          api.read(f"{APPS}/replicasets")["items"]}
    assert sorted(rs) == ["2", "3"] and rs["3"]["spec"]["replicas"] == 2 and rs["2"]["spec"]["replicas"] == 0
    assert rs["3"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert sorted(p["spec"]["containers"][0]["image"] for p in live_pods(api, "web")) == ["nginx:1.27"] * 2
    assert undo(kubectl, "deployment/web", "--to-revision=3") == \
        "deployment.apps/web skipped rollback (current template already matches revision 3)"
