"""Media worker processes: rooms pinned to one of N processes, the web process keeps the rest.

`MediaWorkerPool` (parent side) starts the workers and opens rooms; each room is a
`RemoteSession` (`remote`) with the interface of `media.peers.PeerSession`. `protocol` is what
crosses the socket; `process` is what runs inside a worker.
"""

from media.workers.pool import MediaWorkerPool, WorkerHealth
from media.workers.protocol import SessionStats, WorkerError, WorkerLost, session_stats
from media.workers.remote import RemoteSession

__all__ = [
    "MediaWorkerPool",
    "RemoteSession",
    "SessionStats",
    "WorkerError",
    "WorkerHealth",
    "WorkerLost",
    "session_stats",
]
