"""Federation (issue 8): members, placement of a graph's nodes, splitting and stitching."""
