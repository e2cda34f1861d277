"""Fixtures of the rectification tests."""

from tests.rectification.steps import journey

__all__ = ["journey"]
