"""Conformance checks for components, shipped to plugin authors (also a pytest plugin)."""
