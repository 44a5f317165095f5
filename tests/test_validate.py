"""Validation semantics (issue 2): scopes, namespaces, parameters, warnings, references."""

from __future__ import annotations

from conftest import codes, node

import pgc

BBOX_PROCESS = {
    "id": "clip_area",
    "parameters": [
        {"name": "bbox", "schema": {"type": "object", "subtype": "bounding-box",
                                    "required": ["west", "south", "east", "north"]}},
        {"name": "factor", "schema": {"type": "number"}, "optional": True, "default": 1},
    ],
    "returns": {"schema": {"type": "object", "subtype": "datacube"}},
    "process_graph": {
        "load": node("load_collection", id="S2", spatial_extent={"from_parameter": "bbox"},
                     temporal_extent=None),
        "scale": node("apply", result=True, data={"from_node": "load"}, process={
            "process_graph": {"m": node("multiply", result=True, x={"from_parameter": "x"},
                                        y={"from_parameter": "factor"})}}),
    },
}  # fmt: skip


def test_declared_parameters_need_no_value_when_validating():
    result = pgc.validate(BBOX_PROCESS)
    assert result.ok and result.diagnostics == []


def test_running_needs_values_for_required_parameters():
    result = pgc.validate(BBOX_PROCESS, parameters={})
    assert codes(result) == {("ProcessParameterRequired", "/parameters/0")}
    bbox = {"west": 1, "south": 2, "east": 3, "north": 4}
    assert pgc.validate(BBOX_PROCESS, parameters={"bbox": bbox}).ok
    bad = pgc.validate(BBOX_PROCESS, parameters={"bbox": {"west": 1}})
    assert [d.code for d in bad.errors] == ["ProcessParameterInvalid"]


def test_bare_graph_parameters_are_warnings_then_required_when_running():
    graph = {
        "l": node(
            "load_collection",
            result=True,
            id="S2",
            spatial_extent={"from_parameter": "bbox"},
            temporal_extent=None,
        )
    }
    validated = pgc.validate(graph)
    assert validated.ok
    assert [(d.code, d.severity) for d in validated.diagnostics] == [
        ("ProcessParameterRequired", "warning")
    ]
    run = pgc.validate(graph, parameters={})
    assert codes(run) == {
        ("ProcessParameterRequired", "/l/arguments/spatial_extent/from_parameter")
    }


def test_undeclared_parameter_in_a_declared_process_is_an_error():
    process = {
        "parameters": [],
        "process_graph": {"a": node("absolute", result=True, x={"from_parameter": "y"})},
    }
    result = pgc.validate(process)
    assert codes(result) == {("ProcessGraphInvalid", "/process_graph/a/arguments/x/from_parameter")}


def test_callback_parameters_resolve_outward():
    # The inner callback uses 'context' of the outer callback: innermost scope first.
    graph = {
        "r": node(
            "reduce_dimension",
            result=True,
            data={"from_parameter": "cube"},
            dimension="t",
            reducer={
                "process_graph": {
                    "f": node(
                        "array_filter",
                        data={"from_parameter": "data"},
                        condition={
                            "process_graph": {
                                "g": node(
                                    "gt",
                                    result=True,
                                    x={"from_parameter": "x"},
                                    y={"from_parameter": "context"},
                                )
                            }
                        },
                    ),
                    "m": node("mean", result=True, data={"from_node": "f"}),
                }
            },
        )
    }
    result = pgc.validate({"parameters": [{"name": "cube", "schema": {}}], "process_graph": graph})
    assert result.ok and result.diagnostics == []


def test_typo_in_a_callback_parameter_gets_a_hint():
    graph = {
        "r": node(
            "reduce_dimension",
            result=True,
            data={"from_parameter": "c"},
            dimension="t",
            reducer={
                "process_graph": {"m": node("mean", result=True, data={"from_parameter": "dta"})}
            },
        )
    }
    declared = pgc.validate({"parameters": [{"name": "c", "schema": {}}], "process_graph": graph})
    [error] = declared.errors
    assert error.hint == "did you mean 'data'?"
    bare = pgc.validate(graph)  # a bare graph might have a parameter called 'dta'
    assert bare.ok and any(d.hint == "did you mean 'data'?" for d in bare.warnings)


def test_references_nested_in_arrays_and_objects_are_resolved():
    graph = {
        "a": node("constant", x=1),
        "b": node("constant", x=2),
        "c": node("array_create", result=True, data=[[{"from_node": "a"}], {"from_node": "b"}]),
    }
    result = pgc.validate(graph)
    assert result.diagnostics == []  # a and b are used: no "does not contribute" warning
    graph["a"]["arguments"]["x"] = {"k": [{"from_node": "c"}]}  # a cycle through nesting
    assert ("ProcessGraphInvalid", "/a") in codes(pgc.validate(graph))


def test_unused_nodes_are_warnings():
    graph = {
        "a": node("pi"),
        "l": node("load_collection", id="S2", spatial_extent=None, temporal_extent=None),
        "s": node("save_result", data={"from_node": "l"}, format="GTiff"),
        "b": node("e", result=True),
    }
    result = pgc.validate(graph)
    assert result.ok
    messages = {d.pointer: d.message for d in result.warnings}
    assert "does not contribute" in messages["/a"]
    assert "not connected to the result" in messages["/s"]
    assert "/l" in messages  # feeds only the unconnected save_result


USER = {
    "id": "ndvi",
    "parameters": [{"name": "v", "schema": {"type": "number"}}],
    "process_graph": {"x": node("absolute", result=True, x={"from_parameter": "v"})},
}


def test_namespaces_choose_user_or_predefined_processes():
    user_call = {"n": node("ndvi", result=True, v=1)}
    assert pgc.validate(user_call, user_processes=[USER]).ok  # null: user-defined first
    backend = {"n": {**node("ndvi", result=True, v=1), "namespace": "backend"}}
    result = pgc.validate(backend, user_processes=[USER])
    assert ("ProcessParameterUnsupported", "/n/arguments/v") in codes(result)
    user_only = {"n": {**node("absolute", result=True, x=1), "namespace": "user"}}
    assert codes(pgc.validate(user_only, user_processes=[USER])) == {
        ("ProcessUnsupported", "/n/process_id")
    }
    remote = {"n": {**node("absolute", result=True, x=1), "namespace": "https://x.org/p"}}
    assert codes(pgc.validate(remote)) == {("ProcessUnsupported", "/n/namespace")}


def test_user_process_arguments_are_checked_against_its_parameters():
    result = pgc.validate({"n": node("ndvi", result=True, v="high")}, user_processes=[USER])
    assert codes(result) == {("ProcessParameterInvalid", "/n/arguments/v")}
    result = pgc.validate({"n": node("ndvi", result=True)}, user_processes={"ndvi": USER})
    assert codes(result) == {("ProcessParameterRequired", "/n/arguments")}


def test_invalid_user_process_is_reported_at_the_call():
    broken = {"id": "broken", "process_graph": {"x": node("absolute", result=True, y=1)}}
    result = pgc.validate({"n": node("broken", result=True)}, user_processes=[broken])
    assert [(d.code, d.pointer) for d in result.errors] == [
        ("ProcessParameterUnsupported", "/n"),
        ("ProcessParameterRequired", "/n"),
    ]
    assert all(
        "In user-defined process 'broken' at /process_graph/x/" in d.message for d in result.errors
    )


def test_type_mismatch_between_a_result_and_an_argument():
    graph = {
        "l": node("load_collection", id="S2", spatial_extent=None, temporal_extent=None),
        "a": node("add", result=True, x={"from_node": "l"}, y=1),
    }
    [error] = pgc.validate(graph).errors
    assert (error.code, error.pointer) == ("ProcessParameterInvalid", "/a/arguments/x")
    assert "gives a data cube" in error.message


def test_out_of_domain_math_is_a_warning():
    result = pgc.validate({"n": node("ln", result=True, x=-1)})
    assert result.ok and [d.severity for d in result.diagnostics] == ["warning"]


def test_diagnostics_are_sorted_by_place_in_the_document():
    graph = {"z": node("nope1", result=True), "a": node("nope2"), "m": node("add", x="s", y=1)}
    result = pgc.validate(graph)
    assert [d.node_id for d in result.errors] == ["z", "a", "m"]


def test_either_or_arguments_given_as_references_are_given():
    """array_element's index and quantiles' q from a parameter are given: the rules saw only
    literal arguments, so a reference looked missing (ArrayElementParameterMissing)."""
    import pgc

    for process_id, data, argument, value, expected in (
        ("array_element", [5, 6, 7], "index", 1, 6),
        ("quantiles", [5, 6, 7], "q", 2, [6.0]),
    ):
        graph = {
            "parameters": [{"name": "v", "schema": {}}],
            "process_graph": {
                "a": {
                    "process_id": process_id,
                    "arguments": {"data": data, argument: {"from_parameter": "v"}},
                    "result": True,
                }
            },
        }
        assert pgc.validate(graph).ok
        assert pgc.run(graph, parameters={"v": value}) == expected
