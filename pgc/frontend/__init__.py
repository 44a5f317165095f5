"""The front end: read openEO documents strictly, validate them, explain every mistake."""

from .validate import ValidationResult, validate

__all__ = ["ValidationResult", "validate"]
