"""Reference implementations of curve fitting: fit_curve and predict_curve."""

from __future__ import annotations
