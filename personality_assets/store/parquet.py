"""Parquet files under one root, a local folder or an ``s3://bucket/prefix`` URI, written safely.

A ``ParquetStore`` works under a root. Paths given to it are relative to the root, with ``/``
separators (``registry/personas.parquet``).

| variable | default |
|---|---|
| PERSONALITY_ASSETS_S3_ENDPOINT_URL | none: AWS itself (set it for MinIO, moto or another S3-compatible server) |

S3 credentials, region and profile come from boto3's usual chain (``AWS_*`` variables, the
shared config files, an instance role); the store keeps no secret itself, and polars gets them
through ``pl.CredentialProviderAWS`` when it reads or writes.

Safety:

* ``write`` and ``sink`` replace a file atomically: readers see the old file or the new one, never
  a partial one. Locally the frame goes to a file in a hidden temporary folder beside the target
  (``.<name>.<random>.tmp/<name>``), is synced, then ``os.replace``\\ d over the target; a failure
  removes the temporary folder and leaves the old file intact (a killed process may leave the
  temporary folder behind, never a broken target). On S3 a single PUT is atomic already (an object of at most 5 GB).
* ``update`` and ``update_lazy`` read, change and write back a file without losing a concurrent
  writer's changes, across processes and machines. Locally they hold an exclusive lock on a lock
  file beside the target (``.<name>.lock``, the ``filelock`` package; an empty file that stays). On S3 they
  write conditionally (``If-Match`` the ETag that was read, ``If-None-Match: *`` to create) and,
  when another writer got there first (412/409), read the new version and apply the change
  again: so ``change`` must be a pure function of what it is given.

Files whose names start with ``.`` are the store's own (locks, temporary files): ``list`` skips them.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

ENDPOINT_VARIABLE = "PERSONALITY_ASSETS_S3_ENDPOINT_URL"
# The largest object a single PUT may create (S3's limit).
MAX_SINGLE_PUT = 5 * 1024**3


class StorageError(RuntimeError):
    """A file or bucket could not be read or written; the message names the URI."""


class ConflictError(StorageError):
    """An S3 update kept losing to other writers and gave up."""


def _checked(relpath: str) -> str:
    """A relative path under the root: no absolute paths, no ``..``, ``/`` separators."""
    parts = relpath.replace("\\", "/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative path under the store's root: {relpath!r}")
    return "/".join(parts)


class ParquetStore:
    """Parquet files under a local folder or an ``s3://bucket/prefix`` root.

    ``endpoint_url`` (default $PERSONALITY_ASSETS_S3_ENDPOINT_URL) points S3 roots at a
    compatible server.
    """

    def __init__(self, root: str | os.PathLike[str], *, endpoint_url: str | None = None):
        root = str(root)
        self._backend: _Local | _S3
        if root.startswith("s3://"):
            self._backend = _S3(root, endpoint_url or os.environ.get(ENDPOINT_VARIABLE) or None)
        elif "://" in root:
            raise ValueError(f"unsupported storage root {root!r}: a local folder or an s3://bucket/prefix URI")
        else:
            self._backend = _Local(root)
        self.root: str = self._backend.root

    def __repr__(self) -> str:
        return f"ParquetStore({self.root!r})"

    @property
    def is_s3(self) -> bool:
        return isinstance(self._backend, _S3)

    def uri(self, relpath: str) -> str:
        """The file's full path or ``s3://`` URI."""
        return self._backend.uri(_checked(relpath))

    def exists(self, relpath: str) -> bool:
        return self._backend.exists(_checked(relpath))

    def delete(self, relpath: str) -> None:
        """Removes the file (nothing happens when there is none)."""
        self._backend.delete(_checked(relpath))

    def read(self, relpath: str) -> pl.DataFrame | None:
        """The whole file, or None when there is none."""
        return self._backend.read(_checked(relpath))

    def scan(self, pattern: str, **scan_options: Any) -> pl.LazyFrame:
        """``pl.scan_parquet`` of a file or a glob (``judge_labels/batches/*.parquet``) under the root,
        with the S3 options filled in; extra keyword arguments go to ``scan_parquet``."""
        return self._backend.scan(_checked(pattern), **scan_options)

    def list(self, prefix: str = "") -> list[str]:
        """The paths (relative to the root, sorted) of the files whose path starts with ``prefix``."""
        if prefix:
            _checked(prefix.rstrip("/") or ".")
        return self._backend.list(prefix)

    def write(self, relpath: str, frame: pl.DataFrame) -> None:
        """Replace the file with ``frame``, atomically."""
        self._backend.write(_checked(relpath), frame)

    def sink(self, relpath: str, frame: pl.LazyFrame) -> None:
        """Stream ``frame`` into the file (polars' streaming engine: memory stays well under the
        data's size), replacing it atomically."""
        self._backend.sink(_checked(relpath), frame)

    def update(
        self, relpath: str, change: Callable[[pl.DataFrame | None], pl.DataFrame], *, attempts: int = 100
    ) -> pl.DataFrame:
        """Replace the file with ``change(current)`` (``current`` None when there is no file yet)
        without losing concurrent updates; returns the frame written. On S3 ``change`` may run again
        on a newer version, up to ``attempts`` times."""
        return self._backend.update(_checked(relpath), change, attempts)

    def update_lazy(
        self, relpath: str, change: Callable[[pl.LazyFrame | None], pl.LazyFrame], *, attempts: int = 100
    ) -> None:
        """``update`` for large files: ``change`` gets the current file as a LazyFrame and its result
        is streamed into the file (e.g. consolidating per-batch files: ``lambda _: store.scan(...)``)."""
        self._backend.update_lazy(_checked(relpath), change, attempts)


class _Local:
    def __init__(self, root: str):
        self.path = Path(root).expanduser().resolve()
        self.root = str(self.path)

    def uri(self, relpath: str) -> str:
        return str(self.path / relpath)

    def exists(self, relpath: str) -> bool:
        return (self.path / relpath).is_file()

    def delete(self, relpath: str) -> None:
        (self.path / relpath).unlink(missing_ok=True)

    def read(self, relpath: str) -> pl.DataFrame | None:
        path = self.path / relpath
        if not path.is_file():
            return None
        try:
            # One open file: read by path, polars may open it more than once, and a concurrent
            # rename between two opens mixes the old file's footer with the new file's pages.
            with open(path, "rb") as file:
                return pl.read_parquet(file)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc

    def scan(self, pattern: str, **scan_options: Any) -> pl.LazyFrame:
        return pl.scan_parquet(str(self.path / pattern), **scan_options)

    def list(self, prefix: str) -> list[str]:
        folder = self.path / prefix.rpartition("/")[0]
        if not folder.is_dir():
            return []
        found = []
        for directory, subdirectories, files in os.walk(folder):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            for name in files:
                relpath = Path(directory, name).relative_to(self.path).as_posix()
                if not name.startswith(".") and relpath.startswith(prefix):
                    found.append(relpath)
        return sorted(found)

    def _replace(self, relpath: str, write_to: Callable[[Path], None]) -> None:
        """``write_to`` a file in a hidden temporary folder beside the target, then rename it over the target."""
        target = self.path / relpath
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the folder of {target}: {exc}") from exc
        # A hidden folder of its own for the temporary file: after a failed write it is removed whole,
        # and a writer thread that would still create the file (polars does, after a failed query)
        # finds no folder to create it in.
        folder = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        folder.mkdir()
        temporary = folder / target.name
        try:
            write_to(temporary)
            os.replace(temporary, target)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        folder.rmdir()
        # The rename itself survives a power cut once the folder is synced.
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def write(self, relpath: str, frame: pl.DataFrame) -> None:
        def write_to(temporary: Path) -> None:
            with open(temporary, "wb") as file:
                frame.write_parquet(file)
                file.flush()
                os.fsync(file.fileno())

        self._replace(relpath, write_to)

    def sink(self, relpath: str, frame: pl.LazyFrame) -> None:
        self._replace(relpath, lambda temporary: frame.sink_parquet(temporary, sync_on_close="all"))

    def _lock(self, relpath: str):
        from filelock import FileLock

        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(target.with_name(f".{target.name}.lock"))

    def update(self, relpath: str, change, attempts: int) -> pl.DataFrame:
        with self._lock(relpath):
            frame = change(self.read(relpath))
            self.write(relpath, frame)
            return frame

    def update_lazy(self, relpath: str, change, attempts: int) -> None:
        with self._lock(relpath):
            current = self.scan(relpath) if self.exists(relpath) else None
            # The new file is written beside the old one and renamed over it, so the scan can read the old one.
            self.sink(relpath, change(current))


class _S3:
    def __init__(self, root: str, endpoint_url: str | None):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in the storage root {root!r}")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.root = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url
        self._client = None
        self._region: str | None = None

    # -- clients ---------------------------------------------------------------------------------
    @property
    def client(self):
        """One boto3 client per store (created on first use, so a store can travel to a new process)."""
        if self._client is None:
            import boto3

            session = boto3.Session()
            self._region = session.region_name
            self._client = session.client("s3", endpoint_url=self.endpoint_url)
        return self._client

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}

    def _polars_options(self) -> dict[str, Any]:
        """polars' ``storage_options`` and ``credential_provider``: the same endpoint and region as
        boto3, credentials fetched from boto3's chain when polars needs them (never stored here)."""
        self.client  # noqa: B018 - resolves the region
        options: dict[str, str] = {}
        if self._region:
            options["aws_region"] = self._region
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["aws_allow_http"] = "true"
        return {"storage_options": options, "credential_provider": pl.CredentialProviderAWS()}

    # -- paths and errors ------------------------------------------------------------------------
    def key(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    def uri(self, relpath: str) -> str:
        return f"s3://{self.bucket}/{self.key(relpath)}"

    def _error(self, exc: Exception, relpath: str, doing: str) -> StorageError:
        from botocore.exceptions import ClientError

        uri = self.uri(relpath)
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket" or (code in ("404", "NotFound") and not self._bucket_exists()):
                return StorageError(f"cannot {doing} {uri}: the bucket {self.bucket!r} does not exist{where}")
            message = exc.response.get("Error", {}).get("Message", "")
            return StorageError(f"cannot {doing} {uri}: {code} {message}".rstrip())
        return StorageError(f"cannot {doing} {uri}{where}: {exc}")

    def _bucket_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                return False
        return True

    @staticmethod
    def _code(exc: Exception) -> str:
        from botocore.exceptions import ClientError

        return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""

    # -- reading ---------------------------------------------------------------------------------
    def _get(self, relpath: str) -> dict | None:
        """get_object's response (one GET: one consistent version), or None when there is no object."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(relpath))
        except ClientError as exc:
            if self._code(exc) == "NoSuchKey":
                return None
            raise self._error(exc, relpath, "read") from exc
        except BotoCoreError as exc:
            raise self._error(exc, relpath, "read") from exc

    def delete(self, relpath: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(relpath))  # no error when absent

    def exists(self, relpath: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(relpath))
        except ClientError as exc:
            if self._code(exc) in ("404", "NoSuchKey", "NotFound") and self._bucket_exists():
                return False
            raise self._error(exc, relpath, "look up") from exc
        except BotoCoreError as exc:
            raise self._error(exc, relpath, "look up") from exc
        return True

    def read(self, relpath: str) -> pl.DataFrame | None:
        response = self._get(relpath)
        if response is None:
            return None
        try:
            return pl.read_parquet(io.BytesIO(response["Body"].read()))
        except Exception as exc:
            raise StorageError(f"cannot read {self.uri(relpath)}: {exc}") from exc

    def scan(self, pattern: str, **scan_options: Any) -> pl.LazyFrame:
        return pl.scan_parquet(self.uri(pattern), **{**self._polars_options(), **scan_options})

    def list(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        base = f"{self.prefix}/" if self.prefix else ""
        found = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    relpath = item["Key"].removeprefix(base)
                    if not relpath.rpartition("/")[2].startswith("."):
                        found.append(relpath)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix or ".", "list") from exc
        return sorted(found)

    # -- writing ---------------------------------------------------------------------------------
    def _put(self, relpath: str, body, **condition: str) -> None:
        """One PUT (atomic: readers see the old object or the new one). ``condition``: IfMatch or
        IfNoneMatch; a failed condition raises botocore's ClientError (412 or 409) to the caller."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(relpath), Body=body, **condition)
        except ClientError as exc:
            if condition and self._code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                raise
            raise self._error(exc, relpath, "write") from exc
        except BotoCoreError as exc:
            raise self._error(exc, relpath, "write") from exc

    @staticmethod
    def _bytes(frame: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()

    def _put_file(self, relpath: str, path: Path, **condition: str) -> None:
        size = path.stat().st_size
        if size > MAX_SINGLE_PUT:
            raise StorageError(f"cannot write {self.uri(relpath)}: {size} bytes is over S3's 5 GB for a single PUT")
        with open(path, "rb") as file:
            self._put(relpath, file, **condition)

    def write(self, relpath: str, frame: pl.DataFrame) -> None:
        self._put(relpath, self._bytes(frame))

    def sink(self, relpath: str, frame: pl.LazyFrame) -> None:
        # Streamed to a local temporary file, then uploaded in one PUT (the file is read as it is sent).
        with tempfile.TemporaryDirectory(prefix="parquet-sink-") as folder:
            path = Path(folder, "frame.parquet")
            frame.sink_parquet(path)
            self._put_file(relpath, path)

    def _conditional(self, relpath: str, attempts: int, attempt_once: Callable[[], bool]) -> None:
        """Run ``attempt_once`` (True when its conditional write succeeded) until it succeeds, with
        jittered backoff between attempts."""
        for attempt in range(attempts):
            if attempt_once():
                return
            time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
        raise ConflictError(f"cannot update {self.uri(relpath)}: other writers changed it {attempts} times in a row")

    def _condition(self, response: dict | None) -> dict[str, str]:
        return {"IfMatch": response["ETag"]} if response is not None else {"IfNoneMatch": "*"}

    def _lost(self, exc: Exception) -> bool:
        # 412: the object changed (or appeared); 409: a concurrent conditional write is in progress;
        # NoSuchKey: the object we read was deleted meanwhile.
        return self._code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey")

    def update(self, relpath: str, change, attempts: int) -> pl.DataFrame:
        from botocore.exceptions import ClientError

        written: list[pl.DataFrame] = []

        def attempt_once() -> bool:
            response = self._get(relpath)
            if response is None:
                current = None
            else:
                try:
                    current = pl.read_parquet(io.BytesIO(response["Body"].read()))
                except Exception as exc:
                    raise StorageError(f"cannot read {self.uri(relpath)}: {exc}") from exc
            frame = change(current)
            try:
                self._put(relpath, self._bytes(frame), **self._condition(response))
            except ClientError as exc:
                if self._lost(exc):
                    return False
                raise
            written.append(frame)
            return True

        self._conditional(relpath, attempts, attempt_once)
        return written[-1]

    def update_lazy(self, relpath: str, change, attempts: int) -> None:
        from botocore.exceptions import ClientError

        def attempt_once() -> bool:
            with tempfile.TemporaryDirectory(prefix="parquet-update-") as folder:
                response = self._get(relpath)
                current = None
                if response is not None:
                    # A local copy of exactly the version whose ETag the write is conditional on.
                    with open(Path(folder, "current.parquet"), "wb") as file:
                        shutil.copyfileobj(response["Body"], file, 1024 * 1024)
                    current = pl.scan_parquet(Path(folder, "current.parquet"))
                path = Path(folder, "new.parquet")
                change(current).sink_parquet(path)
                try:
                    self._put_file(relpath, path, **self._condition(response))
                except ClientError as exc:
                    if self._lost(exc):
                        return False
                    raise
                return True

        self._conditional(relpath, attempts, attempt_once)
