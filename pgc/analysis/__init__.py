"""Analyses of the IR that passes use (band usage, ...)."""
