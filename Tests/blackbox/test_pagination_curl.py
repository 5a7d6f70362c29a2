"""A 2,500-item list walked in pages of 100 with curl."""

import json
import urllib.parse

from helpers import Api, curl

TOTAL = 2500
PAGE = 100


def test_pagination_walks_2500_items_with_curl(kemu_factory):
    srv = kemu_factory()
    api = Api(srv.url)
    ns = "bulk"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(TOTAL):
        r = api.post(f"/api/v1/namespaces/{ns}/endpoints",
                     {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": f"ep-{i:04d}"}})
        assert r.status_code == 201, (i, r.status_code, r.text[:300])
    # objects in another namespace must not leak into the namespaced list
    api.create("/api/v1/namespaces/default/endpoints",
               {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "outsider"}})
    api.close()

    seen = []
    token = None
    pages = 0
    list_rv = None
    while True:
        url = f"{srv.url}/api/v1/namespaces/{ns}/endpoints?limit={PAGE}"
        if token:
            url += "&continue=" + urllib.parse.quote(token, safe="")
        code, body = curl(url)
        assert code == 200, body[:500]
        page = json.loads(body)
        pages += 1
        assert page["kind"] == "EndpointsList"
        md = page["metadata"]
        if list_rv is None:
            list_rv = md["resourceVersion"]
        assert md["resourceVersion"] == list_rv
        names = [i["metadata"]["name"] for i in page["items"]]
        assert len(names) == PAGE, f"page {pages} has {len(names)} items"
        seen += names
        token = md.get("continue")
        if token:
            assert md["remainingItemCount"] == TOTAL - len(seen), (pages, md)
        else:
            assert "remainingItemCount" not in md
            break
        assert pages <= TOTAL // PAGE, "more pages than items"
    assert pages == TOTAL // PAGE
    assert len(seen) == TOTAL
    assert len(set(seen)) == TOTAL, "an item was repeated"
    assert set(seen) == {f"ep-{i:04d}" for i in range(TOTAL)}, "an item was lost"

    # the whole list in one request agrees
    code, body = curl(f"{srv.url}/api/v1/namespaces/{ns}/endpoints")
    full = json.loads(body)
    assert sorted(i["metadata"]["name"] for i in full["items"]) == sorted(seen)
    assert not full["metadata"].get("continue")
