"""Executors as plug-ins (issue 19): a third party's executor, installed as an entry point of
the group ``pgc.executors``, runs graphs by its name; a broken one is left out."""

from __future__ import annotations

import textwrap

import pytest
from conftest import node

import pgc
from pgc.executors import registry
from pgc.executors.reference import ReferenceExecutor

PLUGIN = '''
from dataclasses import dataclass, field

from pgc.executors.reference import ReferenceExecutor

RUNS = []


@dataclass(frozen=True)
class TracingExecutor(ReferenceExecutor):
    """The reference, counting the nodes of every graph it runs."""

    name: str = "tracing"

    def run(self, graph, parameters, context):
        RUNS.append(sum(1 for _ in graph.walk()))
        return super().run(graph, parameters, context)
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution on sys.path with two entry points: a working executor, a broken one."""
    (tmp_path / "pgc_tracing_executor.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "pgc_tracing_executor-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pgc-tracing-executor\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[pgc.executors]\n"
        "tracing = pgc_tracing_executor:TracingExecutor\n"
        "broken = pgc_tracing_executor:NoSuchThing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload_plugins()
    yield __import__("pgc_tracing_executor")
    registry.reload_plugins()


def test_a_plugin_executor_runs_graphs_by_its_name(installed):
    graph = {"a": node("add", x=1, y={"from_parameter": "v"}),
             "m": node("multiply", result=True, x={"from_node": "a"}, y=2)}  # fmt: skip
    assert "tracing" in registry.names() and "broken" not in registry.names()
    assert pgc.run(graph, parameters={"v": 20}, executor="tracing") == 42
    assert pgc.Session(executor="tracing").run(graph, parameters={"v": 1}) == 4
    assert installed.RUNS == [2, 2]


def test_an_unknown_executor_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown executor 'gpu': reference, numba, dask"):
        pgc.run({"p": node("pi", result=True)}, executor="gpu")
    with pytest.raises(ValueError, match="unknown executor"):
        pgc.Session(executor="gpu")


def test_an_executor_object_can_be_passed_directly():
    seen = []

    class Counting(ReferenceExecutor):
        def run(self, graph, parameters, context):
            seen.append(graph.result_node.process_id)
            return super().run(graph, parameters, context)

    assert pgc.run({"p": node("pi", result=True)}, executor=Counting(), pipeline="none") > 3
    assert seen == ["pi"]


def test_the_command_line_names_the_known_executors(capsys):
    from conftest import ROOT

    from pgc.cli import main

    assert main(["run", str(ROOT / "examples" / "evi.json"), "--executor", "gpu"]) == 2
    assert "unknown executor 'gpu': reference, numba, dask" in capsys.readouterr().err


def test_an_executor_adds_to_the_node_loop_through_a_hook():
    """Issue 19: executors add what they add through hooks, not branches in the loop: a
    hook answering ``pi`` nodes itself, the rest as the reference runs them."""

    def hook(call, overridden):
        return (3.0 if call.node.process_id == "pi" else None), call

    class Hooked(ReferenceExecutor):
        def prepare(self, context, **settings):
            context.hooks = (hook,)

    graph = {"p": node("pi"), "m": node("multiply", result=True, x={"from_node": "p"}, y=2)}
    assert pgc.run(graph, executor=Hooked(), pipeline="none") == 6.0
    assert pgc.run(graph, pipeline="none") > 6.28
