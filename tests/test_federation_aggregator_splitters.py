"""pgc's placement against openeo-aggregator's real cross-back-end splitters (issue 22,
part 5), on three scenarios of benchmarks/bench_federation.py: the splitters run
in-process, their splits become placements that run in pgc's local federation.

openeo-aggregator is compared with, never a dependency: without it these tests skip, saying
how to install it (``pip install --no-deps "openeo-aggregator==0.47.0a1"``, as .ci/run does).
"""

from __future__ import annotations

import sys

import pytest

from benchmarks import bench_federation as bench

CROP = "crop classification, S1 and S2 on different members"
TWO_LOADS = "ab: two loads of A on a, one of B on b"
ONLY_B = "ab: one collection, a process only b runs"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """scenario -> strategy -> Row, for the three scenarios (the S1 sample is written under
    a temporary cache folder)."""
    pytest.importorskip(
        "openeo_aggregator.partitionedjobs.crossbackend",
        reason="openeo-aggregator is not installed: " + bench.INSTALL,
    )
    from pgc.options import active, set_active

    before = active()
    set_active(before.replace(cache_dir=tmp_path_factory.mktemp("cache")))
    try:
        found = {s.name: s for s in bench.scenarios()}
        return {
            name: {r.strategy: r for r in bench.run(found[name])}
            for name in (CROP, TWO_LOADS, ONLY_B)
        }
    finally:
        set_active(before)


def test_every_placement_gives_the_single_catalog_result(rows):
    for scenario, by_strategy in rows.items():
        for r in by_strategy.values():
            if r.moved is not None:
                assert r.result == "same as single catalog", (scenario, r.strategy)


def test_pgc_moves_no_more_than_a_real_splitter_whose_split_runs(rows):
    ran = 0
    for scenario, by_strategy in rows.items():
        pgc = by_strategy[bench.PGC]
        assert pgc.can_run, scenario
        for r in by_strategy.values():
            if r.strategy != bench.PGC and r.can_run:
                ran += 1
                assert pgc.moved <= r.moved + bench.METADATA * r.files, (scenario, r.strategy)
    assert ran == 4  # both Deep variants, in the crop classification and the two loads of A


def test_the_deep_splitter_cuts_at_the_wrong_branch_when_a_collection_is_loaded_twice(rows):
    """Deep (as the aggregator configures it) moves one of A's two time series means to b,
    twice what pgc moves (B's mean to a); its split runs on the members."""
    deep, pgc = rows[TWO_LOADS][bench.DEEP], rows[TWO_LOADS][bench.PGC]
    assert deep.can_run and deep.jobs == 2
    assert deep.moved > 1.9 * pgc.moved


def test_at_least_10x_less_than_the_load_collection_split_where_a_reduction_moves(rows):
    """Crop classification: the LoadCollection split moves S1's two bands over 12 dates
    (6.3 MB) to the S2 member; pgc moves one band's yearly mean. Its split does not run as
    given (a GTiff save of a cube with t), but its placement is valid."""
    lc, pgc = rows[CROP][bench.LOAD_COLLECTION], rows[CROP][bench.PGC]
    assert lc.placed and not lc.can_run
    assert "GTiff save of s1 loses t" in lc.runs
    assert lc.moved >= 10 * pgc.moved
    # the Deep splitter cuts after the reductions too: the same bytes as pgc
    deep = rows[CROP][bench.DEEP]
    assert deep.can_run and abs(deep.moved - pgc.moved) <= bench.METADATA * deep.files


def test_a_split_that_ignores_processes_moves_nothing_and_cannot_run(rows):
    """a holds A but cannot run apply_kernel: both splitters as the aggregator configures
    them leave everything on a (0 bytes, one job), which a cannot run; the Deep splitter
    told about processes fails with an IndexError; pgc moves the maximum over time to b."""
    by_strategy = rows[ONLY_B]
    for name in (bench.LOAD_COLLECTION, bench.DEEP):
        r = by_strategy[name]
        assert (r.moved, r.jobs, r.placed) == (0, 1, False)
        assert r.runs == "no: a lacks apply_kernel"
    aware = by_strategy[bench.DEEP_PROCESSES]
    assert aware.moved is None and aware.runs == "cannot split (IndexError in the splitter)"
    assert by_strategy[bench.PGC].can_run and by_strategy[bench.PGC].moved > 0


def test_the_benchmark_says_how_to_install_the_aggregator_when_it_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openeo_aggregator.partitionedjobs", None)
    assert bench.main([]) == 2
    err = capsys.readouterr().err
    assert 'pip install --no-deps "openeo-aggregator==0.47.0a1"' in err
