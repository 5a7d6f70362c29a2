"""Fixtures for the black-box scenario suite of kemu's EndpointSlice, Endpoints and
EndpointSlice-mirroring controllers (issue 3).

Every scenario drives a real `kemu serve` process through its HTTP API only: it creates
Nodes, Services and Pods, sets pod status through `pods/status`, and observes the
EndpointSlices and Endpoints that kemu's controllers write.

Each scenario gets an `Env`: a fresh namespace on a (session-wide, lazily started) kemu
server with the flags the scenario needs, plus two watches started at a known
resourceVersion right after the namespace was created — one on `endpointslices`, one on
`endpoints` in that namespace.  The watches

  * keep the current state of both resources (so scenarios wait on *state*),
  * record every ADDED / MODIFIED / DELETED event (so scenarios count *writes*), and
  * hand every object kemu emitted to a finaliser that validates it against upstream's
    JSON schema (kubernetes-validate, Kubernetes 1.32, strict: no unknown fields) and
    against the discovery/core validation rules of the reference (§1.6).

Counting writes: `m = env.mark()` before the action, then `env.wait_slices(...)` (which
waits for the expected state, then until the controllers are quiet: no event on either
watch for QUIET seconds, bounded), then `env.slice_writes(m, "svc")`.  After a client's own
write to a slice or Endpoints, `env.await_rv(rv)` waits for that write's event before the
controller's reaction is awaited; `after_rv=` leaves the client's own event out of a count.
Negative checks use `env.settle()`: longer than the 1 s slice-triggered resync delay, then a
sentinel Service must get its placeholder (the controllers are alive and caught up).

The plain-Python part (Env, watches, validation, builders) lives in scenlib.py.  Knobs (env
vars): KEMU_SCEN_QUIET (0.3 s), KEMU_SCEN_WAIT (15 s), KEMU_SCEN_QUIET_BOUND (15 s),
KEMU_SCEN_SETTLE (1.5 s).  Extra package: kubernetes-validate (in Tests/blackbox/requirements.txt).

Fixtures:
  make_env(*kemu_args, tag=None)   an Env on a server started with those flags
  env                              an Env on a default server (no flags)
"""

import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
for p in (str(HERE.parent), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from scenlib import _KV_IMPORT_ERROR, Env, ServerPool  # noqa: E402


@pytest.fixture(scope="session")
def server_pool(kemu_bin, logs_dir):
    if _KV_IMPORT_ERROR is not None:
        pytest.fail("the controller scenario suite validates every emitted object with the PyPI package "
                    f"kubernetes-validate (see Tests/blackbox/requirements.txt): {_KV_IMPORT_ERROR}")
    pool = ServerPool(kemu_bin, logs_dir)
    yield pool
    pool.stop_all()


@pytest.fixture
def make_env(server_pool, tmp_path):
    envs = []

    def make(*args, tag=None):
        srv = server_pool.get(args, tag)
        e = Env(server_pool, srv, tmp_path / f"env{len(envs)}")
        envs.append(e)
        return e

    yield make
    problems = []
    for e in envs:
        problems += e.finish()
    if problems:
        shown = problems[:40]
        more = f"\n... and {len(problems) - 40} more" if len(problems) > 40 else ""
        pytest.fail("scenario teardown found problems (objects kemu emitted that fail upstream's 1.32 JSON "
                    "schema or the §1.6 validation rules, watch errors, or kemu exiting):\n  "
                    + "\n  ".join(shown) + more, pytrace=False)


@pytest.fixture
def env(make_env):
    return make_env()


