"""Fixtures of the simulated-cluster acceptance tests."""

import pytest

from helpers import Api


@pytest.fixture
def make_cluster(kemu_factory):
    """make_cluster(*flags): a `kemu serve --nodes 3` with extra flags; returns (server, Api)."""
    apis = []

    def start(*flags):
        srv = kemu_factory("--nodes", "3", *flags)
        apis.append(Api(srv.url))
        return srv, apis[-1]
    yield start
    for a in apis:
        a.close()


@pytest.fixture
def cluster(kemu_factory):
    """A `kemu serve --nodes 3` over zones a, b and c; yields (server, Api)."""
    srv = kemu_factory("--nodes", "3", "--zones", "zone-a,zone-b,zone-c")
    api = Api(srv.url)
    yield srv, api
    api.close()
