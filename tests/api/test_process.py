"""``python -m zeropower.api`` as a real process: HTTP on a free port, limits on the wire, SIGTERM stops it quickly."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.api.process import api_process, healthy
from tests.helpers import wait_until
from zeropower.shared.topics import Topics

TOKEN = "s3cret"
MIB = 1 << 20


async def test_serves_healthz_and_stops_on_sigterm(mqtt_settings, probe, tmp_path):
    topics = Topics(mqtt_settings.topic_prefix)
    with api_process(mqtt_settings, tmp_path) as (process, url):
        await probe.wait_for(topics.availability("api"), lambda m: m.text == "online", timeout=20)
        await wait_until(lambda: healthy(f"{url}/healthz"), timeout=20, interval=0.1)
        mark = probe.mark()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
        await probe.wait_for(topics.availability("api"), lambda m: m.text == "offline", since=mark)
    log = (tmp_path / "api.log").read_text()
    assert "Traceback" not in log, log


def memory_mib(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its highest so far (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM")}


def send_100_mb(url: str, *, token: str | None, chunked: bool) -> str:
    """PUT a 100 MB JSON body to /api/config/controller as fast as the server takes it; the status it answered.

    The server may close the connection mid-body (after its answer): the rest is then not sent.
    """
    host, port = url.removeprefix("http://").split(":")
    head = "PUT /api/config/controller HTTP/1.1\r\nHost: zeropower\r\nContent-Type: application/json\r\n"
    head += f"Authorization: Bearer {token}\r\n" if token else ""
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {100 * MIB}\r\n\r\n"
    prefix, suffix = b'{"target_w": 5, "pad": "', b'"}'
    padding = b"a" * MIB
    chunks = [prefix, *[padding] * 99, padding[: MIB - len(prefix) - len(suffix)], suffix]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode())
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            sock.sendall(b"0\r\n\r\n" if chunked else b"")
        return sock.recv(200).split(b" ")[1].decode()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_100_mb_bodies_leave_the_memory_as_it_was(mqtt_settings, tmp_path, chunked):
    """Issue 12: an unauthenticated 100 MB body took the API from 58 to 368 MB (an authenticated one to 554 MB)."""
    with api_process(mqtt_settings, tmp_path, token=TOKEN) as (process, url):
        await wait_until(lambda: healthy(f"{url}/healthz"), timeout=20, interval=0.1)
        before = memory_mib(process.pid)
        statuses = [send_100_mb(url, token=token, chunked=chunked) for token in (None, TOKEN)]
        after = memory_mib(process.pid)
        print(f"RSS before {before['VmRSS']:.0f} MiB, peak after both bodies {after['VmHWM']:.0f} MiB")
        assert statuses == ["401", "413"]
        assert after["VmHWM"] - max(before.values()) < 16, (before, after)


async def open_stream(streams: contextlib.AsyncExitStack, url: str, source: str) -> int:
    """Open ``GET /api/events`` from address ``source`` and keep it open with ``streams``; the answer's status."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    client = await streams.enter_async_context(httpx.AsyncClient(transport=transport, timeout=10))
    response = await streams.enter_async_context(client.stream("GET", f"{url}/api/events"))
    return response.status_code


async def test_live_event_streams_are_limited_per_address_and_in_total(mqtt_settings, tmp_path):
    limits = {"max_event_streams_per_client": "2", "max_event_streams": "3"}
    with api_process(mqtt_settings, tmp_path, **limits) as (_process, url):
        await wait_until(lambda: healthy(f"{url}/healthz"), timeout=20, interval=0.1)
        async with contextlib.AsyncExitStack() as streams:
            async with contextlib.AsyncExitStack() as first:
                assert await open_stream(first, url, "127.0.0.1") == 200
                assert [await open_stream(streams, url, "127.0.0.1") for _ in range(2)] == [200, 429]
                assert await open_stream(streams, url, "127.0.0.2") == 200
                assert await open_stream(streams, url, "127.0.0.3") == 429  # 3 open in all
            # the first stream is closed: its place is free once the server has seen the disconnect
            await wait_until(lambda: stream_status(url, "127.0.0.3") == 200)


def stream_status(url: str, source: str) -> int:
    """The status ``GET /api/events`` from address ``source`` is answered with (the stream is closed at once)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client, client.stream("GET", f"{url}/api/events") as response:
        return response.status_code
