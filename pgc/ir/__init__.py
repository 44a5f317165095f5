"""pgc's typed DAG IR: types, nodes, graphs, their text form and the way back to openEO."""
