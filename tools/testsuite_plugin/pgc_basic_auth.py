"""A pytest plugin for openeo-test-suite 0.2.2 against a back-end that offers basic auth only.

The suite's ``connection`` fixture honours ``OPENEO_AUTH_METHOD=basic`` (with
``OPENEO_AUTH_BASIC_USERNAME`` and ``OPENEO_AUTH_BASIC_PASSWORD``), but two of its paths log
in with ``Connection.authenticate_oidc()`` whatever that says: the bearer token of the
general API tests (``compliance_util.get_access_token``) and the connection of the process
tests' HTTP runner. With ``OPENEO_AUTH_METHOD=basic`` this plugin makes
``authenticate_oidc`` on any connection log in with those basic credentials instead, for
the length of the pytest session; otherwise it does nothing.

    PYTHONPATH=tools/testsuite_plugin pytest -p pgc_basic_auth ...
"""

from __future__ import annotations

import os

import pytest

ENV_METHOD = "OPENEO_AUTH_METHOD"
ENV_USER = "OPENEO_AUTH_BASIC_USERNAME"
ENV_PASSWORD = "OPENEO_AUTH_BASIC_PASSWORD"

_patch: pytest.MonkeyPatch | None = None


def credentials() -> tuple[str, str] | None:
    """The basic credentials to log in with, when basic auth is asked for."""
    if os.environ.get(ENV_METHOD) != "basic":
        return None
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if not user or not password:
        raise pytest.UsageError(f"{ENV_METHOD}=basic needs {ENV_USER} and {ENV_PASSWORD}")
    return user, password


def pytest_configure(config: pytest.Config) -> None:
    global _patch
    login = credentials()
    if login is None:
        return
    from openeo.rest.connection import Connection

    def log_in_with_basic(self: Connection, *args: object, **kwargs: object) -> Connection:
        """Stands for ``authenticate_oidc``: whatever it was asked, log in as the basic user."""
        return self.authenticate_basic(username=login[0], password=login[1])

    _patch = pytest.MonkeyPatch()
    _patch.setattr(Connection, "authenticate_oidc", log_in_with_basic)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _patch
    if _patch is not None:
        _patch.undo()
        _patch = None


def pytest_report_header(config: pytest.Config) -> str | None:
    if _patch is None:
        return None
    return f"pgc_basic_auth: authenticate_oidc() logs in as basic user {os.environ[ENV_USER]!r}"
