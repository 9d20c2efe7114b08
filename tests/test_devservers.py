"""The embedded Redis persists like a production one: jobs survive a crash of redis-server."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from redis import Redis

from messenger.devservers import start_redis


def test_embedded_redis_keeps_its_data_across_a_sigkill(tmp_path: Path) -> None:
    first = start_redis(tmp_path / "redis")
    try:
        client = Redis.from_url(first.url)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("save")["save"] != ""
        client.rpush("rq:queue:assignment", "job-1", "job-2")
        time.sleep(1.5)  # appendfsync everysec
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        client.close()
        second = start_redis(tmp_path / "redis")
        try:
            assert Redis.from_url(second.url).lrange("rq:queue:assignment", 0, -1) == [b"job-1", b"job-2"]
        finally:
            second.stop()
    finally:
        first.stop()


def test_the_test_suite_redis_is_not_persistent(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis", persist=False)
    try:
        client = Redis.from_url(server.url)
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        server.stop()
