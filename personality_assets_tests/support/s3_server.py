"""A local S3-compatible server for tests: moto's server mode on 127.0.0.1, a free port, in a thread.

Real clients (boto3, polars' object store, other processes) talk to it over HTTP at ``url``.
It serves one request at a time: moto checks a PUT's ``If-Match``/``If-None-Match`` and then
stores the object in two steps, so two concurrent conditional PUTs could both pass the check on a
threaded server, where S3 itself decides them atomically. Serialising requests gives S3's
guarantee (HTTP/1.0, one connection per request, so no client holds the server).

``s3_server`` (session fixture) starts it; ``s3_env`` (function fixture) points boto3 and the
store at it with dummy credentials (and away from the user's own AWS config).
"""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

REGION = "us-east-1"


class LocalS3Server:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalS3Server:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, 0, app, threaded=False, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-s3", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )

    def create_bucket(self) -> str:
        """A new, empty bucket with a unique name."""
        name = f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None


@pytest.fixture(scope="session")
def s3_server():
    server = LocalS3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch, tmp_path):
    """boto3's chain (in this process and the ones it starts) finds dummy credentials and the local endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PERSONALITY_ASSETS_S3_ENDPOINT_URL", s3_server.url)
    return s3_server
