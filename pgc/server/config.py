"""The configuration of ``pgc serve``: one TOML file, every setting with a default.

.. code-block:: toml

    [server]
    host = "127.0.0.1"
    port = 8080
    data = "pgc-data"            # the database, job results and the token secret
    database = ""                # empty: SQLite under data; or postgresql://user@host/db
                                 # (several servers on one database share one data folder)
    title = "pgc"
    workers = 2                  # batch jobs run at once, each in its own process
    max_queued = 100             # jobs waiting for a worker; more is refused (429)
    max_request_bytes = 2097152  # larger request bodies are refused (413)
    token_hours = 24             # lifetime of a basic-auth bearer token
    result_url_hours = 168       # lifetime of the signed links of job results
    allowed_hosts = []           # hosts load_stac may read from (pgc.hosts: "example.com",
                                 # "http://127.0.0.1:8081"); none by default

    [sync]                       # the budget of one synchronous /result request
    max_seconds = 60
    max_cube_bytes = 536870912   # any one value the graph makes, loads included

    [users]                      # basic auth: name = hash from `pgc serve --hash-password`
    alice = "pbkdf2_sha256$600000$...$..."

    [[oidc]]                     # OpenID Connect providers, optional
    id = "egi"
    issuer = "https://aai.egi.eu/auth/realms/egi"
    title = "EGI Check-in"

    [catalog]
    collections = ["/data/collections/s2", "stac.toml"]   # beside pgc's samples: folders of
                                 # collections, catalog files of STAC-backed ones
    samples = false              # leave pgc's embedded sample collections out (default true)

    [processes]
    exclude = ["apply_kernel"]   # processes this back-end does not offer (not listed;
                                 # a graph using one is ProcessUnsupported)

    [federation]                 # serve as the aggregator in front of other back-ends
    description = "fed.toml"     # `pgc federation describe` writes it
    credentials = "members.toml" # [MEMBER] (or ["*"]) user = "...", password = "..."

Passwords are stored as PBKDF2-SHA256 hashes with a random salt (:func:`hash_password`);
the file never holds one in clear. A relative ``data`` or collection folder is relative
to the configuration file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..hosts import HostPolicy

ITERATIONS = 600_000  # PBKDF2-SHA256 rounds, as OWASP advises for 2023 and later


@dataclass(frozen=True)
class OidcProviderConfig:
    id: str
    issuer: str
    title: str
    scopes: tuple[str, ...] = ("openid",)
    description: str = ""


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``pgc serve`` is told (:func:`load_config`); defaults serve loopback."""

    host: str = "127.0.0.1"
    port: int = 8080
    data: Path = Path("pgc-data")
    database: str = ""
    title: str = "pgc"
    workers: int = 2
    max_queued: int = 100
    max_request_bytes: int = 2 * 1024 * 1024
    token_hours: float = 24.0
    result_url_hours: float = 168.0  # signed links of job results (pgc.server.app.url_signer)
    sync_seconds: float = 60.0
    sync_cube_bytes: int = 512 * 1024**2
    users: dict[str, str] = field(default_factory=dict)  # name -> password hash
    oidc: tuple[OidcProviderConfig, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # what load_stac may reach (pgc.hosts)
    collections: tuple[Path, ...] = ()
    samples: bool = True  # serve pgc's embedded sample collections beside the configured ones
    exclude_processes: tuple[str, ...] = ()  # processes not offered
    federation: Path | None = None  # a federation description: serve as its aggregator
    federation_credentials: Path | None = None  # how the aggregator logs in to members

    @property
    def database_url(self) -> str:
        return self.database or str(self.data / "pgc.sqlite")

    def check_password(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        return stored is not None and verify_password(password, stored)


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the reason."""


_SERVER_KEYS = {
    "host": str, "port": int, "data": str, "database": str, "title": str, "workers": int,
    "max_queued": int, "max_request_bytes": int, "token_hours": (int, float),
    "result_url_hours": (int, float),
    "allowed_hosts": list,
}  # fmt: skip
_SYNC_KEYS = {"max_seconds": (int, float), "max_cube_bytes": int}


def load_config(path: str | Path | None, **overrides: Any) -> ServerConfig:
    """The configuration in the TOML file ``path`` (None: the defaults), with ``overrides``
    (host, port ... from the command line) applied last."""
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        base = path.resolve().parent
    unknown = set(raw) - {"server", "sync", "users", "oidc", "catalog", "processes", "federation"}
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}")
    server = _checked(raw.get("server", {}), _SERVER_KEYS, "server")
    hosts = server.pop("allowed_hosts", [])
    if not all(isinstance(h, str) for h in hosts):
        raise ConfigError("[server] allowed_hosts: a list of hosts")
    try:
        HostPolicy(tuple(hosts))
    except ValueError as exc:
        raise ConfigError(f"[server] allowed_hosts: {exc}") from None
    sync = _checked(raw.get("sync", {}), _SYNC_KEYS, "sync")
    users = raw.get("users", {})
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in users.items()
    ):
        raise ConfigError("[users]: name = \"password hash\" pairs")
    for name, stored in users.items():
        if not stored.startswith("pbkdf2_sha256$"):
            raise ConfigError(
                f"[users] {name}: not a password hash (make one with `pgc serve --hash-password`)"
            )
    oidc = tuple(_oidc(p) for p in raw.get("oidc", []))
    catalog = raw.get("catalog", {})
    unknown = set(catalog) - {"collections", "samples"} if isinstance(catalog, dict) else set()
    if not isinstance(catalog, dict) or unknown:
        raise ConfigError(f"[catalog]: collections and samples only (not {sorted(unknown)})")
    folders = catalog.get("collections", [])
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise ConfigError("[catalog] collections: a list of folders")
    samples = catalog.get("samples", True)
    if not isinstance(samples, bool):
        raise ConfigError("[catalog] samples: true or false")
    processes = raw.get("processes", {})
    exclude = processes.get("exclude", []) if isinstance(processes, dict) else None
    if (not isinstance(processes, dict) or set(processes) - {"exclude"}
            or not isinstance(exclude, list) or not all(isinstance(p, str) for p in exclude)):
        raise ConfigError("[processes]: exclude = a list of process ids")  # fmt: skip
    federation = raw.get("federation", {})
    if not isinstance(federation, dict) or set(federation) - {"description", "credentials"} or (
        not all(isinstance(v, str) for v in federation.values())
    ):
        raise ConfigError("[federation]: description and credentials, each a file")
    settings: dict[str, Any] = {
        **{k: v for k, v in server.items() if k != "data"},
        "data": base / server.get("data", "pgc-data"),
        "users": dict(users),
        "oidc": oidc,
        "collections": tuple(base / f for f in folders),
        "samples": samples,
        "allowed_hosts": tuple(hosts),
        "exclude_processes": tuple(exclude),
        **({"federation": base / federation["description"]} if "description" in federation
           else {}),
        **({"federation_credentials": base / federation["credentials"]}
           if "credentials" in federation else {}),
    }  # fmt: skip
    if "max_seconds" in sync:
        settings["sync_seconds"] = float(sync["max_seconds"])
    if "max_cube_bytes" in sync:
        settings["sync_cube_bytes"] = sync["max_cube_bytes"]
    settings.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("data", "federation"):
        if isinstance(settings.get(key), str):
            settings[key] = Path(settings[key])
    config = ServerConfig(**settings)
    if config.workers < 1 or config.max_queued < 0 or config.max_request_bytes < 1024:
        raise ConfigError("workers >= 1, max_queued >= 0, max_request_bytes >= 1024")
    return config


def _checked(section: Any, keys: dict[str, Any], name: str) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] is not a table")
    for key, value in section.items():
        if key not in keys:
            raise ConfigError(f"[{name}] has no setting {key!r}: {', '.join(sorted(keys))}")
        if not isinstance(value, keys[key]) or isinstance(value, bool):
            raise ConfigError(f"[{name}] {key}: wrong type {type(value).__name__}")
    return dict(section)


def _oidc(raw: Any) -> OidcProviderConfig:
    if not isinstance(raw, dict) or not {"id", "issuer", "title"} <= set(raw):
        raise ConfigError("[[oidc]]: each provider needs id, issuer and title")
    return OidcProviderConfig(
        str(raw["id"]), str(raw["issuer"]), str(raw["title"]),
        tuple(raw.get("scopes", ("openid",))), str(raw.get("description", "")),
    )  # fmt: skip


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """``pbkdf2_sha256$iterations$salt$hash`` (base64) of ``password`` with a new salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return "$".join(
        ["pbkdf2_sha256", str(iterations), base64.b64encode(salt).decode(),
         base64.b64encode(digest).decode()]
    )  # fmt: skip


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (in constant time)."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt), int(rounds)
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False
