"""The data migrations of methods with versions, on rows made before them: each method's
submissions become its versions 1, 2, ... in upload order, and an owner's second method of one
name (the old "lamp-2") stays a method of its own, renamed so that names are unique per owner."""

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
