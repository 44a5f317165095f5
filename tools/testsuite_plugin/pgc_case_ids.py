"""A pytest plugin for openeo-test-suite 0.2.2: a stable name for each process vector.

The suite's process tests (``tests/processes/processing/test_example.py::test_process``)
are parametrized over every selected vector, and pytest names them by position in that
whole list (``test_process[add-example12-file12-L1-False]``): selecting one more process
renames all that follow. This plugin gives each such test the user property ``case``,
``<process>.json5#<index in its file>`` (as ``pgc conformance`` names vectors), which JUnit
XML reports carry as ``<property name="case" .../>``.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def case_name(process_file: Path, tests: list[dict], example: dict) -> str | None:
    """``<stem>.json5#<i>`` for ``example`` among the vectors ``tests`` of one process file
    (found by identity, else by equality); None when it is not among them."""
    for i, test in enumerate(tests):
        if test is example:
            return f"{Path(process_file).stem}.json5#{i}"
    for i, test in enumerate(tests):
        if test == example:
            return f"{Path(process_file).stem}.json5#{i}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    selected: dict[str, list[dict]] | None = None
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if not {"process_id", "example", "file"} <= set(params):
            continue
        if selected is None:
            from openeo_test_suite.lib.process_selection import get_selected_processes

            selected = {p.process_id: p.tests for p in get_selected_processes()}
        name = case_name(params["file"], selected.get(params["process_id"], []), params["example"])
        if name is not None:
            item.user_properties.append(("case", name))
