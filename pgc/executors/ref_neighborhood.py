"""Reference implementations of neighbourhood and reshaping processes."""

from __future__ import annotations
