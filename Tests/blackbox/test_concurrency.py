"""Concurrent writers and many watchers; optimistic concurrency under contention."""

import random
import threading
import time

from helpers import MERGE, Api, WatchStream, endpoints, rv_int

WRITERS = 4
WATCHERS = 50
MAX_OPS_PER_WRITER = 120
WRITE_SECONDS = 3.0


def test_many_watchers_see_every_write_exactly_once_in_order(kemu_factory):
    srv = kemu_factory()
    setup = Api(srv.url)
    ns = "conc"
    setup.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    coll = f"/api/v1/namespaces/{ns}/endpoints"
    start_rv = setup.read(coll)["metadata"]["resourceVersion"]
    watchers = [WatchStream(srv.url, coll, {"watch": "true", "resourceVersion": start_rv}, timeout=120)
                for _ in range(WATCHERS)]
    assert all(w.status == 200 for w in watchers)

    acked = []            # (type, name, rv or None)
    acked_lock = threading.Lock()
    errors = []
    stop_at = time.monotonic() + WRITE_SECONDS

    def writer(idx):
        api = Api(srv.url)
        rnd = random.Random(idx)
        live = []
        n = 0
        try:
            for op in range(MAX_OPS_PER_WRITER):
                if time.monotonic() > stop_at:
                    break
                choice = rnd.random()
                if not live or choice < 0.45:
                    name = f"w{idx}-{n}"
                    n += 1
                    r = api.post(coll, endpoints(name, ips=(f"10.{idx}.{n % 250}.1",)))
                    if r.status_code != 201:
                        errors.append(("create", name, r.status_code, r.text[:300]))
                        continue
                    live.append(name)
                    with acked_lock:
                        acked.append(("ADDED", name, r.json()["metadata"]["resourceVersion"]))
                elif choice < 0.8:
                    name = rnd.choice(live)
                    r = api.patch(f"{coll}/{name}", {"metadata": {"labels": {"op": str(op)}}}, content_type=MERGE)
                    if r.status_code != 200:
                        errors.append(("patch", name, r.status_code, r.text[:300]))
                        continue
                    with acked_lock:
                        acked.append(("MODIFIED", name, r.json()["metadata"]["resourceVersion"]))
                else:
                    name = live.pop(rnd.randrange(len(live)))
                    r = api.delete(f"{coll}/{name}")
                    if r.status_code != 200:
                        errors.append(("delete", name, r.status_code, r.text[:300]))
                        continue
                    with acked_lock:
                        acked.append(("DELETED", name, None))
        finally:
            api.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    assert len(acked) >= WRITERS * 5, f"too few writes acknowledged: {len(acked)}"

    expected_n = len(acked)
    try:
        streams = []
        for i, w in enumerate(watchers):
            evs = w.take(expected_n, timeout=30)
            extra = w.drain(quiet=0.3, timeout=2)
            streams.append(evs + extra)
    finally:
        for w in watchers:
            w.close()

    acked_rvs = {rv: (typ, name) for typ, name, rv in acked if rv is not None}
    deletes = {}
    for typ, name, _ in acked:
        if typ == "DELETED":
            deletes[name] = deletes.get(name, 0) + 1

    reference = None
    for i, evs in enumerate(streams):
        assert len(evs) == expected_n, f"watcher {i}: {len(evs)} events, {expected_n} writes acknowledged"
        assert all(e["type"] in ("ADDED", "MODIFIED", "DELETED") for e in evs), [e["type"] for e in evs][:20]
        rvs = [rv_int(e["object"]) for e in evs]
        assert rvs == sorted(rvs), f"watcher {i}: events out of resourceVersion order"
        assert len(set(rvs)) == len(rvs), f"watcher {i}: duplicate events"
        assert all(r > int(start_rv) for r in rvs)
        seen = {e["object"]["metadata"]["resourceVersion"]: (e["type"], e["object"]["metadata"]["name"]) for e in evs}
        for rv, what in acked_rvs.items():
            assert seen.get(rv) == what, f"watcher {i}: acknowledged write {what}@{rv} seen as {seen.get(rv)}"
        got_deletes = {}
        for e in evs:
            if e["type"] == "DELETED":
                got_deletes[e["object"]["metadata"]["name"]] = got_deletes.get(e["object"]["metadata"]["name"], 0) + 1
        assert got_deletes == deletes, f"watcher {i}: deletes differ"
        sig = [(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"]) for e in evs]
        if reference is None:
            reference = sig
        else:
            assert sig == reference, f"watcher {i} saw a different sequence than watcher 0"

    # no acknowledged write is lost: the final list equals the acknowledged state
    final = {}
    for typ, name, rv in acked:
        if typ == "DELETED":
            final.pop(name, None)
        else:
            final[name] = rv
    lst = setup.read(coll)
    got = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in lst["items"]}
    assert got == final
    # and the per-object last RV matches the last acknowledged write on each
    assert int(lst["metadata"]["resourceVersion"]) >= max(int(r) for r in acked_rvs)
    setup.close()


def test_optimistic_concurrency_counter(kemu_factory):
    srv = kemu_factory()
    api0 = Api(srv.url)
    path = "/api/v1/namespaces/default/endpoints/counter"
    obj = endpoints("counter")
    obj["metadata"]["annotations"] = {"count": "0"}
    api0.create("/api/v1/namespaces/default/endpoints", obj)
    THREADS, INCS = 4, 15
    conflicts = [0]
    lock = threading.Lock()
    failures = []

    def incr():
        api = Api(srv.url)
        try:
            for _ in range(INCS):
                for attempt in range(500):
                    cur = api.read(path)
                    cur["metadata"]["annotations"]["count"] = str(int(cur["metadata"]["annotations"]["count"]) + 1)
                    r = api.put(path, cur)
                    if r.status_code == 200:
                        break
                    if r.status_code == 409:
                        st = r.json()
                        if st.get("reason") != "Conflict":
                            failures.append(r.text[:300])
                            return
                        with lock:
                            conflicts[0] += 1
                        continue
                    failures.append((r.status_code, r.text[:300]))
                    return
                else:
                    failures.append("too many retries")
                    return
        finally:
            api.close()

    threads = [threading.Thread(target=incr) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:3]
    final = api0.read(path)
    assert final["metadata"]["annotations"]["count"] == str(THREADS * INCS)
    api0.close()


def test_concurrent_creates_of_same_name_exactly_one_wins(kemu_factory):
    srv = kemu_factory()
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def create():
        api = Api(srv.url)
        barrier.wait()
        r = api.post("/api/v1/namespaces/default/endpoints", endpoints("race"))
        with lock:
            results.append((r.status_code, r.json().get("reason")))
        api.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == sorted([(201, None)] + [(409, "AlreadyExists")] * 7), results


def test_stalled_watcher_does_not_block_writers_or_other_watchers(kemu_factory):
    import socket
    srv = kemu_factory()
    api = Api(srv.url)
    coll = "/api/v1/namespaces/default/endpoints"
    obj = endpoints("fat")
    obj["metadata"]["annotations"] = {"pad": "p" * 16384}
    created = api.create(coll, obj)
    rv = created["metadata"]["resourceVersion"]
    # a client that opens a watch and never reads from its socket
    stalled = socket.create_connection(("127.0.0.1", srv.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(f"GET {coll}?watch=true&resourceVersion={rv} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    healthy = WatchStream(srv.url, coll, {"watch": "true", "resourceVersion": rv}, timeout=120)
    try:
        n = 200   # ~3.3 MB of events, far more than the stalled socket can absorb
        acked = []
        for i in range(n):
            r = api.patch(f"{coll}/fat", {"metadata": {"labels": {"i": str(i)}}}, content_type=MERGE)
            assert r.status_code == 200, r.text[:300]
            acked.append(r.json()["metadata"]["resourceVersion"])
        evs = healthy.take(n, timeout=60)
        assert [e["object"]["metadata"]["resourceVersion"] for e in evs] == acked
        assert all(e["type"] == "MODIFIED" for e in evs)
        # the server still answers other requests
        assert api.read(f"{coll}/fat")["metadata"]["labels"] == {"i": str(n - 1)}
    finally:
        healthy.close()
        stalled.close()
        api.close()
