"""Fixtures of the notification tests."""

from tests.notifications.receiver import receiver
from tests.notifications.smtp_server import smtp_inbox
from tests.rectification.steps import journey

__all__ = ["journey", "receiver", "smtp_inbox"]
