"""The web application of ``pgc serve``: openeo-driver's openEO API (1.2) over pgc's back-end
(:mod:`pgc.server.backend`), with what openeo-driver leaves open closed:

- basic-auth bearer tokens are signed (HMAC-SHA256 with a secret kept under the data
  folder) and expire; openeo-driver's own are the user name in base64, which anyone can
  write;
- ``PATCH /jobs/{id}`` and ``GET /jobs/{id}/estimate`` are served (openeo-driver answers
  501);
- the links of job results are signed with HMAC-SHA256 and expire (:func:`url_signer`);
- the ``/_debug`` routes are gone; listings
  are not cached as public; request bodies larger than ``max_request_bytes`` are refused
  (413, ``PayloadTooLarge``); unexpected errors answer ``Internal`` without the
  exception's text (:meth:`pgc.server.backend.PgcBackend.summarize_exception`).

>>> from pgc.server.config import ServerConfig
>>> token = sign_token("alice", b"k" * 32, hours=1)
>>> check_token(token, b"k" * 32), check_token(token, b"x" * 32)
('alice', None)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import flask

from .config import ServerConfig

LOG = logging.getLogger("pgc.server")


def sign_token(user_id: str, secret: bytes, hours: float) -> str:
    """A bearer token for ``user_id`` valid for ``hours``: user, expiry and HMAC, each
    base64url (no ``/``: openeo-driver splits bearer tokens on it)."""
    expires = str(int(time.time() + hours * 3600))
    body = base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=") + "." + expires
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def check_token(token: str, secret: bytes) -> str | None:
    """The user of a valid, unexpired token; None otherwise."""
    try:
        user_part, expires, mac = token.split(".")
        body = f"{user_part}.{expires}"
        want = hmac.new(secret, body.encode(), hashlib.sha256).digest()
        got = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(want, got) or int(expires) < time.time():
            return None
        return base64.urlsafe_b64decode(user_part + "=" * (-len(user_part) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def token_secret(folder: Path) -> bytes:
    """The server's token secret (made once, mode 0600, shared by its processes and by the
    servers sharing the data folder). It is written whole under a name of its own and then
    linked to ``token-secret``, which fails if that exists: servers starting together on a
    new folder all read the secret linked first, never a file still empty (an empty key
    would sign tokens anyone can forge)."""
    path = folder / "token-secret"
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, made = tempfile.mkstemp(prefix=".token-secret-", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
            os.link(made, path)
        except FileExistsError:
            pass  # another server's came first: that one is the secret
        finally:
            os.unlink(made)
    secret = path.read_bytes()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds {len(secret)} bytes, too few for the token secret; "
                           "remove it and a new one is made")  # fmt: skip
    return secret


def url_signer(secret: bytes, hours: float) -> Any:
    """openeo-driver's URL signer with pgc's signature: HMAC-SHA256 under a key derived
    from the server's secret (openeo-driver's own is an MD5 of the parts and the secret).
    The links of a finished job's results (the collection, its items and assets) are
    signed and expire after ``hours``: whoever holds the link reads them without a token,
    which is how another back-end's ``load_stac`` reads them (a federated run, issue 22)."""
    from openeo_driver.urlsigning import UrlSigner

    key = hmac.new(secret, b"pgc result URLs", hashlib.sha256).digest()

    class Signer(UrlSigner):
        def _sign_with_secret(self, *parts: str) -> str:
            message = "\x1f".join(parts).encode()  # a separator: ("ab", "c") is not ("a", "bc")
            mac = hmac.new(key, message, hashlib.sha256).digest()
            return base64.urlsafe_b64encode(mac).decode().rstrip("=")

        def _check(self, signature: str, expires: Any, *parts: str) -> None:
            from openeo_driver.errors import CredentialsInvalidException, ResultLinkExpiredException

            want = self._sign_with_secret(*parts, str(expires))
            if not hmac.compare_digest(str(signature).encode(), want.encode()):
                raise CredentialsInvalidException()
            if not str(expires).isdigit() or int(expires) < time.time():
                raise ResultLinkExpiredException()

        # the same parts as UrlSigner's sign_* methods sign, compared in constant time
        def verify_job_asset(self, signature: str, job_id: str, user_id: str,
                             filename: str, expires: Any) -> None:  # fmt: skip
            self._check(signature, expires, job_id, user_id, filename)

        def verify_job_results(self, signature: str, job_id: str, user_id: str,
                               expires: Any) -> None:  # fmt: skip
            self._check(signature, expires, job_id, user_id)

        def verify_job_item(self, signature: str, job_id: str, user_id: str, item_id: str,
                            expires: Any) -> None:  # fmt: skip
            self._check(signature, expires, job_id, user_id, item_id)

    return Signer(secret="", expiration=max(1, int(hours * 3600)))


def driver_config(config: ServerConfig, signer: Any = None) -> Any:
    """openeo-driver's configuration for this server, made its global one (openeo-driver
    reads parts of it from ``get_backend_config()``, not from the back-end)."""
    from openeo_driver.config import OpenEoBackendConfig
    from openeo_driver.config import load as config_load
    from openeo_driver.users.oidc import OidcProvider

    import pgc

    made = OpenEoBackendConfig(
        id="pgc",
        capabilities_title=config.title,
        capabilities_description="An openEO back-end whose engine is pgc, the openEO "
        "process-graph compiler.",
        capabilities_backend_version=pgc.__version__,
        processing_facility="pgc",
        processing_software="pgc",
        enable_basic_auth=bool(config.users),
        valid_basic_auth=config.check_password,
        enable_oidc_auth=bool(config.oidc),
        oidc_providers=[
            OidcProvider(p.id, p.issuer, p.title, list(p.scopes), p.description or None)
            for p in config.oidc
        ],
        flask_settings={"MAX_CONTENT_LENGTH": config.max_request_bytes},
        url_signer=signer,
    )
    # openeo-driver 0.136 keeps its configuration in this getter; pgc pins that version
    config_load._backend_config_getter._config = made
    return made


def create_app(config: ServerConfig) -> tuple[flask.Flask, Any]:
    """The openEO web application and its job pool (started; stop it when done)."""
    from openeo_driver.errors import OpenEOApiException
    from openeo_driver.users import User
    from openeo_driver.views import build_app

    from .backend import PgcBackend
    from .jobs import JobPool
    from .service import service_for

    service = service_for(config)
    pool = JobPool(config, service.store)
    secret = token_secret(config.data)
    signer = url_signer(secret, config.result_url_hours)
    backend = PgcBackend(service, pool, driver_config(config, signer))
    app = build_app(backend_implementation=backend)
    auth = app.extensions["auth_handler"]

    def build_token(user_id: str) -> str:
        return sign_token(user_id, secret, config.token_hours)

    def resolve_token(access_token: str) -> Any:
        from openeo_driver.errors import TokenInvalidException

        user_id = check_token(access_token, secret)
        if user_id is None or user_id not in config.users:
            raise TokenInvalidException()
        return User(user_id=user_id, internal_auth_data={"authentication_method": "basic"})

    auth.build_basic_access_token = build_token
    auth.resolve_basic_access_token = resolve_token

    @auth.requires_bearer_auth
    def modify_job(job_id: str, user: Any) -> flask.Response:
        changes = flask.request.get_json(silent=True)
        if not isinstance(changes, dict):
            raise OpenEOApiException(code="BadRequest", status_code=400,
                                     message="The request body is not a JSON object.")
        backend.jobs.update(job_id, user.user_id, changes)
        return flask.make_response("", 204)

    @auth.requires_bearer_auth
    def job_estimate(job_id: str, user: Any) -> flask.Response:
        return flask.jsonify(backend.jobs.estimate(job_id, user.user_id))

    def gone(*args: Any, **kwargs: Any) -> flask.Response:
        flask.abort(404)

    for blueprint in ("openeo", "openeo_old"):
        app.view_functions[f"{blueprint}.modify_job"] = modify_job
        app.view_functions[f"{blueprint}.job_estimate"] = job_estimate
        for name in list(app.view_functions):
            if name.startswith(f"{blueprint}.debug_"):
                app.view_functions[name] = gone

    downloads = {f"{b}.download_job_result{s}" for b in ("openeo", "openeo_old")
                 for s in ("", "_signed")}  # fmt: skip

    @app.after_request
    def count_sent(response: flask.Response) -> flask.Response:
        """Log the bytes of a job's asset sent (a federated run measures what crossed
        between members from these entries, with ``pgc:sent_bytes`` in their data)."""
        request = flask.request
        sent = response.content_length
        if (request.endpoint in downloads and request.method == "GET" and sent
                and response.status_code in (200, 206)):  # fmt: skip
            args = request.view_args or {}
            service.store.log(
                str(args.get("job_id")), "info",
                f"Sent {sent} bytes of {args.get('filename')} to {request.remote_addr}.",
                data={"pgc:sent_bytes": sent, "pgc:asset": args.get("filename"),
                      "pgc:to": request.remote_addr},
            )  # fmt: skip
        return response

    @app.errorhandler(413)
    def too_large(error: Any) -> flask.Response:
        body = {"code": "PayloadTooLarge", "id": "r-413", "message":
                f"The request body is larger than {config.max_request_bytes} bytes."}
        return flask.make_response(flask.jsonify(body), 413)

    pool.start()
    return app, pool


def serve(config: ServerConfig) -> None:  # pragma: no cover - run by the CLI and tests
    """Serve until interrupted: a threaded HTTP server on ``config.host``:``config.port``."""
    from werkzeug.serving import make_server

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("pgc.server").setLevel(logging.INFO)
    app, pool = create_app(config)
    server = make_server(config.host, config.port, app, threaded=True)
    LOG.warning("pgc serve: http://%s:%d/openeo/1.2/", config.host, server.server_port)
    print(f"pgc serve: http://{config.host}:{server.server_port}/openeo/1.2/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        pool.stop()
