"""Helpers of the media tests that other test modules use too (never imported from test files)."""

from __future__ import annotations

import aioice.ice


def loopback_only() -> None:
    """`loopback_ice` for a worker process: its `setup` hook (module-level, so picklable)."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
