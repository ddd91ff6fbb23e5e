"""The data migrations of methods with versions, on rows made before them: each method's
submissions become its versions 1, 2, ... in upload order, and an owner's second method of one
name (the old "lamp-2") stays a method of its own, renamed so that names are unique per owner;
runs recorded before the record's columns get them from their records."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("leaderboard", "0003_benchmark_published_top1"), ("submissions", "0007_dispatch")]
AFTER = [("leaderboard", "0004_method_paper"), ("submissions", "0008_submission_version")]


@pytest.mark.django_db(transaction=True)
def test_existing_rows_get_versions_and_an_owners_duplicate_names_are_told_apart():
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User, Method, Submission = (old.get_model(*m) for m in
                                [("auth", "User"), ("leaderboard", "Method"), ("submissions", "Submission")])
    alice = User.objects.create(username="alice")
    bob = User.objects.create(username="bob")
    lamp = Method.objects.create(name="LAMP", slug="lamp", owner=alice)
    lamp2 = Method.objects.create(name="LAMP", slug="lamp-2", owner=alice)
    bobs = Method.objects.create(name="LAMP", slug="lamp-3", owner=bob)
    builtin = Method.objects.create(name="random", slug="baseline-random", is_baseline=True)
    subs = [Submission.objects.create(method=m, owner=m.owner, sha256=f"{i}")
            for i, m in enumerate([lamp, lamp, lamp, lamp2, bobs, builtin])]

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Method, Submission = new.get_model("leaderboard", "Method"), new.get_model("submissions", "Submission")
    assert [Submission.objects.get(pk=s.pk).version for s in subs] == [1, 2, 3, 1, 1, 1]
    names = dict(Method.objects.values_list("slug", "name"))
    assert names == {"lamp": "LAMP", "lamp-2": "LAMP (lamp-2)", "lamp-3": "LAMP", "baseline-random": "random"}

    MigrationExecutor(connection).migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_runs_recorded_before_the_record_columns_get_them_from_their_records():
    before = [("leaderboard", "0005_benchmark_track"), ("submissions", "0009_worker_heartbeat")]
    after = [("leaderboard", "0005_benchmark_track"), ("submissions", "0010_run_record_columns")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Benchmark, Method, Submission, Run = (old.get_model(*m) for m in [
        ("leaderboard", "Benchmark"), ("leaderboard", "Method"), ("submissions", "Submission"), ("submissions", "Run")])
    bench = Benchmark.objects.create(name="digits-mlp", dataset="digits", model="mlp")
    submission = Submission.objects.create(method=Method.objects.create(name="m", slug="m"), sha256="0")
    cut = Run.objects.create(submission=submission, benchmark=bench, compression=64.0, seed=0, status="finished",
                             record={"masks_sha256": "ab" * 32, "effective_compression": 600.0,
                                     "effective_speedup": None, "disconnected": True})
    older = Run.objects.create(submission=submission, benchmark=bench, compression=2.0, seed=0, status="finished",
                               record={"top1": 0.9})  # a record from before the effective columns
    queued = Run.objects.create(submission=submission, benchmark=bench, compression=4.0, seed=0)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    Run = executor.loader.project_state(after).apps.get_model("submissions", "Run")
    columns = ("masks_sha256", "effective_compression", "effective_speedup", "disconnected")
    got = {r.pk: tuple(getattr(r, c) for c in columns) for r in Run.objects.all()}
    assert got == {cut.pk: ("ab" * 32, 600.0, None, True), older.pk: ("", None, None, None),
                   queued.pk: ("", None, None, None)}

    MigrationExecutor(connection).migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_uploads_kept_on_disk_move_into_the_database_unchanged(settings, tmp_path):
    import hashlib

    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path / "media"
    before = [("leaderboard", "0005_benchmark_track"), ("submissions", "0010_run_record_columns")]
    after = [("leaderboard", "0005_benchmark_track"), ("submissions", "0011_strategy_file_in_database")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Method, Submission = old.get_model("leaderboard", "Method"), old.get_model("submissions", "Submission")
    code = "# é, a strategy\nclass S: pass\n".encode()
    submission = Submission(method=Method.objects.create(name="m", slug="m"),
                            sha256=hashlib.sha256(code).hexdigest(), filename="s.py")
    submission.file.save("s.py", ContentFile(code), save=True)
    builtin = Submission.objects.create(method=Method.objects.create(name="b", slug="b"), sha256="x")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    StrategyFile = executor.loader.project_state(after).apps.get_model("submissions", "StrategyFile")
    assert bytes(StrategyFile.objects.get(submission_id=submission.pk).data) == code
    assert not StrategyFile.objects.filter(submission_id=builtin.pk).exists()

    MigrationExecutor(connection).migrate(leaves)
