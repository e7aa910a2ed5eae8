"""A private Redis for one test: ``redis-server`` on a free port of 127.0.0.1, nothing on disk.

Its own server (not the machine's on 6379) so a test can stop and restart it, and two tests never
share limiter state. Without ``redis-server`` the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from personality_assets_tests.support.helpers import free_port, skip_unless_ci


class LocalRedis:
    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        skip_unless_ci("redis-server is not installed (Debian: apt-get install redis-server)")
    server = LocalRedis().start()
    yield server
    server.stop()
