"""``pgc serve``: an openEO back-end (API 1.2) whose engine is pgc (:mod:`pgc.server`)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from .common import EXIT_OK, UsageError


def cmd_serve(args: Any) -> int:
    if args.hash_password:
        from ..server.config import hash_password

        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else (
            getpass.getpass("password: ")
        )
        print(hash_password(password))
        return EXIT_OK
    try:
        import openeo_driver  # noqa: F401
    except ImportError:
        raise UsageError(
            "pgc serve needs openeo-driver: pip install 'pgc[server]' && "
            "pip install --no-deps 'openeo-driver==0.136.0a4' (README: pgc serve)"
        ) from None
    from ..server.app import serve
    from ..server.config import ConfigError, load_config

    try:
        config = load_config(args.config, host=args.host, port=args.port, data=args.data,
                             federation=args.federation)  # fmt: skip
    except ConfigError as exc:
        raise UsageError(f"--config: {exc}") from None
    serve(config)
    return EXIT_OK
