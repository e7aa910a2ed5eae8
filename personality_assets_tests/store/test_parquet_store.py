"""The parquet store (personality_assets.store), on a local folder and on S3 (moto's server on 127.0.0.1).

Every store test runs against both roots; the S3 one goes through real boto3 and polars clients
over HTTP. The concurrency tests start two real processes that update the same file at once. The
value-alignment track keeps its files in one, at the root its environment names.
"""

import multiprocessing
import os
import random
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from personality_assets.defs.values.storage import values_root, values_store
from personality_assets.store.parquet import ParquetStore, StorageError

REGISTRY = "registry/personas.parquet"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ParquetStore:
    if request.param == "local":
        return ParquetStore(tmp_path / "values")
    server = request.getfixturevalue("s3_env")
    return ParquetStore(f"s3://{server.create_bucket()}/values")


def personas(*ids: str) -> pl.DataFrame:
    return pl.DataFrame({"persona_id": list(ids), "stage_labeled": [False] * len(ids)})


def files_beside(store: ParquetStore, relpath: str) -> list[str]:
    """Every file in the folder of a local store's file, hidden ones included."""
    return sorted(os.listdir(os.path.dirname(store.uri(relpath))))


def test_write_read_exists_list(store):
    assert store.read(REGISTRY) is None
    assert not store.exists(REGISTRY)
    assert store.list() == []

    store.write(REGISTRY, personas("a1", "b2"))
    store.write("judge_labels/batches/b1.parquet", personas("a1"))
    store.write("judge_labels/batches/b2.parquet", personas("b2"))
    store.write(REGISTRY, personas("a1", "b2", "c3"))  # replaces

    assert store.exists(REGISTRY)
    assert_frame_equal(store.read(REGISTRY), personas("a1", "b2", "c3"))
    assert store.list() == ["judge_labels/batches/b1.parquet", "judge_labels/batches/b2.parquet", REGISTRY]
    assert store.list("judge_labels/") == ["judge_labels/batches/b1.parquet", "judge_labels/batches/b2.parquet"]
    assert store.list("judge_labels/batches/b2") == ["judge_labels/batches/b2.parquet"]
    assert store.list("nothing/") == []
    assert store.uri(REGISTRY) == f"{store.root}/{REGISTRY}"
    assert store.uri(REGISTRY).startswith("s3://" if store.is_s3 else "/")


def test_scan_and_streaming_sink(store):
    for batch in range(3):
        frame = pl.DataFrame({"persona_id": [f"p{batch}"] * 4, "t_index": list(range(4))})
        store.write(f"judge_labels/batches/b{batch}.parquet", frame)

    scanned = store.scan("judge_labels/batches/*.parquet").sort("persona_id", "t_index").collect()
    assert scanned.height == 12

    store.sink("judge_labels/judge_labels.parquet", store.scan("judge_labels/batches/*.parquet"))
    assert_frame_equal(store.read("judge_labels/judge_labels.parquet").sort("persona_id", "t_index"), scanned)
    assert_frame_equal(store.scan("judge_labels/judge_labels.parquet").collect().sort("persona_id", "t_index"), scanned)


def test_update_creates_then_changes(store):
    written = store.update(REGISTRY, lambda current: personas("a1") if current is None else current)
    assert_frame_equal(written, personas("a1"))
    store.update(REGISTRY, lambda current: pl.concat([current, personas("b2")]))
    store.update(REGISTRY, lambda current: current.with_columns(stage_labeled=pl.col("persona_id") == "b2"), attempts=3)
    assert store.read(REGISTRY).to_dicts() == [
        {"persona_id": "a1", "stage_labeled": False},
        {"persona_id": "b2", "stage_labeled": True},
    ]


def test_update_lazy_streams_the_current_file(store):
    store.update_lazy(REGISTRY, lambda current: personas("a1").lazy())
    store.update_lazy(REGISTRY, lambda current: pl.concat([current, personas("b2").lazy()]))
    assert_frame_equal(store.read(REGISTRY), personas("a1", "b2"))


def test_a_failed_change_leaves_the_file_as_it_was(store):
    store.write(REGISTRY, personas("a1"))

    def broken(current):
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError, match="the change failed"):
        store.update(REGISTRY, broken)
    # A query that fails while polars is already writing (a string that is not a number).
    failing = pl.LazyFrame({"persona_id": ["x"]}).select(pl.col("persona_id").cast(pl.Int64))
    with pytest.raises(pl.exceptions.InvalidOperationError):
        store.sink(REGISTRY, failing)
    with pytest.raises(pl.exceptions.InvalidOperationError):
        store.update_lazy(REGISTRY, lambda current: failing)

    assert_frame_equal(store.read(REGISTRY), personas("a1"))
    assert store.list() == [REGISTRY]
    if not store.is_s3:  # no temporary file left behind (the lock file stays, empty)
        assert files_beside(store, REGISTRY) == [".personas.parquet.lock", "personas.parquet"]


def test_a_write_is_a_rename_of_a_complete_file(tmp_path, monkeypatch):
    """Locally the new file is complete before it takes the old one's name."""
    store = ParquetStore(tmp_path)
    store.write(REGISTRY, personas("a1"))
    renames = []
    real_replace = os.replace

    def replace(source, target):
        # The temporary file's hidden folder, and the rows of both files at the moment of the rename.
        folder = os.path.basename(os.path.dirname(source))
        renames.append((folder, pl.read_parquet(source).height, pl.read_parquet(target).height))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    store.write(REGISTRY, personas("a1", "b2"))
    ((source, new_rows, old_rows),) = renames
    assert source.startswith(".personas.parquet.") and source.endswith(".tmp")
    assert (new_rows, old_rows) == (2, 1)


def add_rows(root: str, worker: str, rounds: int = 20, per_round: int = 10) -> None:
    """A process's part of the concurrency test: ``rounds`` updates adding ``per_round`` rows each."""
    store = ParquetStore(root)
    for round_ in range(rounds):
        new = pl.DataFrame({"worker": [worker] * per_round, "n": range(round_ * per_round, (round_ + 1) * per_round)})
        store.update("rows.parquet", lambda current, new=new: new if current is None else pl.concat([current, new]))


def consolidate_batches(root: str, worker: str, batches: int = 10, per_batch: int = 20) -> None:
    """Another: write a batch's file, then rebuild the consolidated file from every batch file (as
    consolidation does); a rebuild from a stale list of batches must never replace a newer one."""
    store = ParquetStore(root)

    def rebuild(_current: pl.LazyFrame | None) -> pl.LazyFrame:
        # Read every batch file now, then pause: the other process's next batch may land meanwhile.
        every_batch = store.scan("judge_labels/batches/*.parquet").collect()
        time.sleep(random.uniform(0, 0.1))
        return every_batch.lazy()

    for batch in range(batches):
        labels = pl.DataFrame({"persona_id": [f"{worker}-{batch}"] * per_batch, "t_index": range(per_batch)})
        store.write(f"judge_labels/batches/{worker}-{batch:02d}.parquet", labels)
        store.update_lazy("judge_labels/judge_labels.parquet", rebuild)
        # Every later version of the file holds this process's batches (a lost update would not, for a while).
        time.sleep(random.uniform(0, 0.1))
        consolidated = set(store.read("judge_labels/judge_labels.parquet")["persona_id"])
        missing = {f"{worker}-{earlier}" for earlier in range(batch + 1)} - consolidated
        assert not missing, f"process {worker}: the consolidated file lost batches {sorted(missing)}"


def timed(work, root: str, worker: str, start, times) -> None:
    """Run ``work`` once both processes are ready; report when it began and ended."""
    start.wait()
    began = time.time()
    work(root, worker)
    times.put((began, time.time()))


def run_two_processes(work, root: str) -> None:
    context = multiprocessing.get_context("spawn")
    start, times = context.Barrier(2), context.Queue()
    processes = [context.Process(target=timed, args=(work, root, worker, start, times)) for worker in ("a", "b")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    assert [process.exitcode for process in processes] == [0, 0]
    (began_a, ended_a), (began_b, ended_b) = times.get(timeout=5), times.get(timeout=5)
    assert max(began_a, began_b) < min(ended_a, ended_b), "the two processes did not run at the same time"


def test_two_processes_updating_at_once_lose_nothing(store):
    run_two_processes(add_rows, store.root)
    rows = store.read("rows.parquet")
    assert rows.height == 400
    assert rows.n_unique() == 400  # every update applied exactly once
    assert rows.group_by("worker").len().sort("worker").to_dicts() == [
        {"worker": "a", "len": 200},
        {"worker": "b", "len": 200},
    ]
    # Each process's updates kept their order.
    for _, own in rows.group_by("worker"):
        assert own["n"].to_list() == list(range(200))


def test_two_processes_consolidating_at_once_lose_nothing(store):
    run_two_processes(consolidate_batches, store.root)
    labels = store.read("judge_labels/judge_labels.parquet")
    assert labels.height == 400
    assert labels.select("persona_id", "t_index").n_unique() == 400


def test_the_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PERSONALITY_ASSETS_VALUES_ROOT", raising=False)
    monkeypatch.setenv("PERSONALITY_ASSETS_DATA_DIR", str(tmp_path))
    assert values_root() == str(tmp_path / "values")
    assert values_store().root == str(tmp_path / "values")
    monkeypatch.setenv("PERSONALITY_ASSETS_VALUES_ROOT", "s3://bucket/some/prefix/")
    assert values_store().root == "s3://bucket/some/prefix"
    assert values_store().uri(REGISTRY) == "s3://bucket/some/prefix/registry/personas.parquet"
    assert ParquetStore("s3://bucket").uri(REGISTRY) == "s3://bucket/registry/personas.parquet"


def test_paths_stay_under_the_root(tmp_path):
    store = ParquetStore(tmp_path)
    for bad in ("../x.parquet", "/etc/x.parquet", "a//b.parquet", "a/./b.parquet", ""):
        with pytest.raises(ValueError, match="relative path"):
            store.uri(bad)
    with pytest.raises(ValueError, match="unsupported storage root"):
        ParquetStore("gs://bucket/values")


def test_an_unreadable_file_is_named(tmp_path):
    store = ParquetStore(tmp_path)
    (tmp_path / "registry").mkdir()
    (tmp_path / REGISTRY).write_bytes(b"not parquet")
    with pytest.raises(StorageError, match=f"cannot read {tmp_path / REGISTRY}"):
        store.read(REGISTRY)


def test_an_unreadable_s3_object_is_named(s3_env):
    bucket = s3_env.create_bucket()
    s3_env.client().put_object(Bucket=bucket, Key="values/registry/personas.parquet", Body=b"not parquet")
    store = ParquetStore(f"s3://{bucket}/values")
    with pytest.raises(StorageError, match=f"cannot read s3://{bucket}/values/registry/personas.parquet"):
        store.read(REGISTRY)


def test_a_missing_bucket_is_named(s3_env):
    store = ParquetStore("s3://no-such-bucket-here/values")
    uri = "s3://no-such-bucket-here/values/registry/personas.parquet"
    expected = f"{uri}: the bucket 'no-such-bucket-here' does not exist at {s3_env.url}"
    for operation in (
        lambda: store.read(REGISTRY),
        lambda: store.exists(REGISTRY),
        lambda: store.write(REGISTRY, personas("a1")),
        lambda: store.update(REGISTRY, lambda current: personas("a1")),
        lambda: store.update_lazy(REGISTRY, lambda current: personas("a1").lazy()),
    ):
        with pytest.raises(StorageError) as raised:
            operation()
        assert expected in str(raised.value)
    with pytest.raises(StorageError, match="s3://no-such-bucket-here/values/registry/: the bucket"):
        store.list("registry/")
