"""``pgc federation describe``: a federation description from the members' own APIs;
``pgc federate run`` (``pgc federation run``): a graph run across the members."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_INVALID, EXIT_OK, UsageError


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


def read_credentials(path: str | None) -> dict[str, tuple[str, str]]:
    """Member id -> (user, password) from ``--credentials`` (:func:`load_credentials`)."""
    from ..federation.remote import load_credentials

    try:
        return load_credentials(path) if path is not None else {}
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_federation_run(args: argparse.Namespace) -> int:
    """Compile FILE for the federation, run each member job as an openEO batch job on its
    member, download the result to -o, and report the bytes that crossed."""
    from ..errors import PgcError
    from ..federation.remote import RemoteFederation, connector
    from ..ir.types import format_bytes
    from .compile import federate_file

    result = federate_file(args)
    if result is None:
        return EXIT_INVALID
    credentials = read_credentials(args.credentials)
    jobs = ", ".join(f"{j.id} on {j.member}" for j in result.split.jobs)
    print(f"{len(result.split.jobs)} job(s): {jobs}", file=sys.stderr)
    runner = RemoteFederation(
        result.federation, connector(credentials),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )  # fmt: skip
    try:
        run = runner.run(result.split, args.output)
    except PgcError as exc:
        for d in exc.diagnostics:
            print(f"pgc: error: {d.code}: {d.message}", file=sys.stderr)
        return EXIT_INVALID
    for path in run.written:
        print(f"wrote {path}")
    print(f"between members: {format_bytes(run.bytes_sent)} sent ({run.bytes_sent} B, the "
          f"members' logs), {run.bytes_received} B received; pgc estimated "
          f"{format_bytes(run.estimate)} ({run.estimate} B)")  # fmt: skip
    return EXIT_OK
