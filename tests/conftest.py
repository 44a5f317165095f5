"""Shared test helpers: where the upstream openEO material is, and small graph builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The upstream openEO process definitions and conformance vectors (openeo-processes
# 2.0.0-rc.2): $OPENEO_PROCESSES_DIR, else ../shared/openeo-processes beside the checkout.
# Tests that need them skip with this reason where they are absent (a fresh clone);
# $PGC_REQUIRE_UPSTREAM=1 (set by .ci/run) turns their absence into an error instead, so
# CI cannot pass by skipping them.
UPSTREAM = Path(
    os.environ.get("OPENEO_PROCESSES_DIR") or ROOT.parent / "shared" / "openeo-processes"
)
UPSTREAM_REASON = (
    f"the upstream openEO definitions are not at {UPSTREAM} "
    "(set OPENEO_PROCESSES_DIR to an openeo-processes checkout)"
)
VECTORS = UPSTREAM / "tests"

needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason=UPSTREAM_REASON)


def pytest_configure(config):
    if os.environ.get("PGC_REQUIRE_UPSTREAM") and not (VECTORS / "add.json5").is_file():
        raise pytest.UsageError(
            f"PGC_REQUIRE_UPSTREAM is set but {UPSTREAM_REASON}: the tests that need them "
            "would be skipped"
        )


def node(process_id: str, result: bool = False, **arguments) -> dict:
    out = {"process_id": process_id, "arguments": arguments}
    if result:
        out["result"] = True
    return out


def run_process(process_id: str, values: dict, **arguments):
    """The value (a Cube for cubes) of one process whose arguments may read ``values``
    (run-time values, e.g. cubes) as parameters, with no passes."""
    from pgc.runner import execute

    graph = {
        "parameters": [{"name": name, "schema": {}} for name in values],
        "process_graph": {"n": node(process_id, result=True, **arguments)},
    }
    return execute(graph, parameters=values, pipeline="none").value


def processes_with(token: str) -> list[int]:
    """The live processes whose command line holds ``token`` (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if token.encode() in cmdline and state not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def codes(result) -> set[tuple[str, str]]:
    return {(d.code, d.pointer) for d in result.errors}


# Hypothesis: every run of the README's test command (CI's too) tries the same fixed,
# derandomized examples, so a change is judged on the same cases each time, whatever the
# machine or PYTHONHASHSEED. Local exploration asks for new random examples, ten times as
# many: ``python -m pytest --hypothesis-profile=explore -k NAME``; an example it finds that
# fails becomes an ``@example`` regression on its test.
from hypothesis import settings as _settings  # noqa: E402

_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
_settings.register_profile("explore", max_examples=1000, deadline=None, print_blob=True)
_settings.load_profile("ci")  # --hypothesis-profile (the plugin) chooses another later


def examples(count: int) -> int:
    """``count`` examples for a test under the default profile, scaled by the profile in
    use (explore: ten times as many): a test's own ``max_examples`` would otherwise
    override the profile's."""
    return max(1, count * _settings.default.max_examples // 100)


@pytest.fixture(autouse=True)
def verified_passes():
    """Every test compiles with the IR verified after each pass: its structure and its
    result's type (issue 19; a context variable, so it stays in the test's own thread)."""
    from pgc.passes.manager import verifying

    with verifying():
        yield


@pytest.fixture(scope="module", params=["float64", "float32"])
def policy(request):
    """Both settings of the dtype policy (pgc.dtypes), restored afterwards (issue 7)."""
    from pgc.dtypes import compute_dtype, set_compute_dtype

    before = compute_dtype()
    set_compute_dtype(request.param)
    yield request.param
    set_compute_dtype(before)


@pytest.fixture(scope="session")
def cluster_client():
    """A dask.distributed LocalCluster of two worker processes on loopback, for the tests
    of the dask executor (started once, closed at the end)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    )  # fmt: skip
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def pgc_options():
    """Change the active pgc options for one test (``pgc_options(cache_dir=path)``), as a
    session's calls would; the options before the test come back after it (issue 19:
    settings are options, not environment variables read by the library)."""
    from pgc.options import active, set_active

    before = active()

    def change(**changes):
        set_active(active().replace(**changes))

    yield change
    set_active(before)
