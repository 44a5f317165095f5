"""``pgc federation describe``: a federation description from the members' own APIs."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_INVALID, EXIT_OK


def cmd_federation_describe(args: argparse.Namespace) -> int:
    """Ask each member URL for its collections, processes and file formats; write the
    description (TOML or JSON by -o's suffix) and say what is left for the user."""
    from ..federation.describe import DescribeError, describe, write_description

    try:
        description, notes = describe(args.urls)
    except DescribeError as exc:
        print(f"pgc: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    written = write_description(description, notes, args.output)
    for member in description["members"]:
        print(f"member {member['id']}: {len(member['collections'])} collection(s), "
              f"{len(member['processes'])} processes")  # fmt: skip
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {', '.join(str(p) for p in written[:1])}"
          + (f" (and {len(written) - 1} STAC document(s) beside it)" if len(written) > 1 else ""))
    return EXIT_OK
