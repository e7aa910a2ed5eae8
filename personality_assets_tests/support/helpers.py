"""What tests import: the checkout's root, the dagster CLI as a user runs it, commands against a
DAGSTER_HOME of their own, free ports, skips that fail under CI, and the PostgreSQL test database
($PERSONALITY_ASSETS_TEST_POSTGRES_URL, default the local server's personality_assets_test
database; without a server its cases skip with the reason, except under CI=true, where they fail)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]

# `dagster asset materialize` of this project as a real subprocess, steps in its own process.
IN_PROCESS = ["--config-json", '{"execution":{"config":{"in_process":{}}}}']
MATERIALIZE = [
    sys.executable,
    "-m",
    "dagster",
    "asset",
    "materialize",
    "-m",
    "personality_assets.definitions",
    *IN_PROCESS,
]

POSTGRES_URL = os.environ.get(
    "PERSONALITY_ASSETS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/personality_assets_test"
)


@cache
def postgres_unavailable_reason() -> str | None:
    """None when the test database is reachable (created on first use), else why not."""
    url = make_url(POSTGRES_URL)
    try:
        server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            # Test workers start together: one creates the database while the others wait.
            connection.execute(text("SELECT pg_advisory_lock(hashtext('personality_assets create test database'))"))
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}
            ).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        server.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {url.render_as_string()}: {str(exc).splitlines()[0]}"
    return None


def skip_unless_ci(reason: str) -> None:
    """A test that cannot run here (a service or program missing) skips, except under CI=true,
    where everything must run: there it fails with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires this test to run: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_postgres() -> None:
    reason = postgres_unavailable_reason()
    if reason:
        skip_unless_ci(reason)


# Commands run as a user would, against a DAGSTER_HOME of their own.
def run_command(command: list[str], env: dict) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


def run_at_once(commands: list[list[str]], env: dict, timeout: float = 300) -> None:
    """Start every command, then wait for all: each must succeed."""
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    errors = [process.communicate(timeout=timeout)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(commands), [e[-3000:] for e in errors]


def new_dagster_home(home: Path, data_dir: Path) -> dict:
    """A new DAGSTER_HOME with the committed dagster.yaml; the environment for commands using it."""
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return cli_env(home, data_dir)


def cli_env(dagster_home: Path, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONALITY_ASSETS_", "DAGSTER_"))}
    return {**env, "DAGSTER_HOME": str(dagster_home), "PERSONALITY_ASSETS_DATA_DIR": str(data_dir)}


def new_postgres_dagster_home(home: Path, data_dir: Path) -> dict:
    """A new DAGSTER_HOME with the committed dagster.postgres.yaml on a database of its own (created
    here); the environment for commands using it."""
    require_postgres()
    url = make_url(POSTGRES_URL)
    instance_db = f"{url.database}_instance_{uuid.uuid4().hex[:8]}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{instance_db}"'))
    server.dispose()
    home.mkdir()
    shutil.copy(ROOT / "dagster.postgres.yaml", home / "dagster.yaml")
    return {
        **cli_env(home, data_dir),
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": instance_db,
    }


@contextmanager
def serving(
    command: list[str], env: dict, log: Path, timeout: float = 180, flags=("-h", "-p"), ready="/server_info"
) -> Iterator[str]:
    """Starts a server command (`dagster dev`, `dagster-webserver`; the explorer with
    flags=("--host", "--port"), ready="/") on a free port, waits until ``ready`` answers, yields its
    base URL, then stops its whole process group."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, flags[0], "127.0.0.1", flags[1], str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}{ready}", timeout=2)
                break
            except OSError:  # not serving yet
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not serve:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
