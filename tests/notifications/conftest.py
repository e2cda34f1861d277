"""Fixtures of the notification tests."""

from tests.notifications.receiver import receiver
from tests.notifications.smtp_server import smtp_inbox

__all__ = ["receiver", "smtp_inbox"]
