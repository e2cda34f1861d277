"""Fixtures of the notification tests."""

from tests.notifications.receiver import receiver

__all__ = ["receiver"]
