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
