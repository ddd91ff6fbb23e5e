"""A worker computes each result key once: a later run with the same target, protocol, weights,
masks and seed reuses the finished result and says so (record, CSV, run page); a verified sample
is computed anyway, and a mismatch is caught, logged and kept for the operator. Every recorded
run's masks are kept once, by their SHA-256."""

import csv
import io
import logging

import pytest
from django.urls import reverse

from evaluator import maskfile, sharing
from submissions import services
from submissions.models import MasksBlob, ResultCheck, Rerun, Run
from submissions.tasks import rerun_evaluate, run_evaluate

from tests.factories import make_method, make_run, make_submission


@pytest.fixture
def dense(benchmarks):
    """Two built-in methods' queued runs at 1x, seed 0, on digits-mlp: both keep every weight."""
    bench = benchmarks["digits-mlp"]
    return [make_run(make_submission(make_method(name, is_baseline=True)), bench, 1, 0, status=Run.Status.QUEUED)
            for name in ("global-mag-weight", "layer-mag-weight")]


def evaluate(run) -> Run:
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    return run


def test_the_second_run_with_the_same_result_key_reuses_the_first_ones_result(dense, client):
    first, second = evaluate(dense[0]), evaluate(dense[1])
    assert first.record["shared_with"] == "" and first.result_key == first.record["result_key"] != ""
    assert second.result_key == first.result_key
    assert second.record["shared_with"] == first.record["run_id"] != second.record["run_id"]
    assert second.record["strategy"] == "layer-mag-weight" and second.record["time_finetune_s"] == 0.0
    assert (second.top1, second.record["loss"]) == (first.top1, first.record["loss"])
    page = client.get(reverse("run", args=[second.pk])).content.decode()
    assert f'Shared with <a href="/r/{first.pk}/">run {first.pk}</a>:\n  same masks, same protocol' in page
    assert "Shared with" not in client.get(reverse("run", args=[first.pk])).content.decode()
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(reverse("run-csv", args=[second.pk]))
                                                   .streaming_content).decode())))
    assert rows[0]["shared_with"] == first.record["run_id"] and rows[0]["result_key"] == first.result_key


def test_every_recorded_runs_masks_are_kept_once_by_their_sha256(dense):
    first, second = evaluate(dense[0]), evaluate(dense[1])
    assert first.masks_sha256 == second.masks_sha256
    [blob] = MasksBlob.objects.all()
    assert maskfile.loads(bytes(blob.data)).sha256() == blob.sha256 == first.masks_sha256


def test_a_verified_shared_run_that_matches_is_recorded_as_identical(dense, settings):
    settings.PRUNEBOARD_VERIFY_SHARED = 1.0
    first, second = evaluate(dense[0]), evaluate(dense[1])
    [check] = ResultCheck.objects.all()
    assert (check.run, check.original, check.differences) == (second, first, [])
    assert second.record["shared_with"] == ""  # computed here, and equal


def test_a_mismatch_is_caught_logged_and_the_run_keeps_its_computed_record(dense, settings, monkeypatch, caplog):
    settings.PRUNEBOARD_VERIFY_SHARED = 1.0
    real = sharing.share_run
    monkeypatch.setattr(sharing, "share_run", lambda *a, **k: {**real(*a, **k), "top1": 0.0123})
    first = evaluate(dense[0])
    with caplog.at_level(logging.ERROR, logger="submissions.services.sharing"):
        second = evaluate(dense[1])
    assert second.record["shared_with"] == "" and second.top1 == first.top1 != 0.0123
    [check] = ResultCheck.objects.all()
    assert (check.run, check.original, check.differences) == (second, first, ["top1"])
    assert f"run {second.pk}: its computed result differs from run {first.pk}'s" in caplog.text


def test_a_reproducibility_rerun_of_a_shared_run_computes_it_and_finds_it_identical(dense):
    evaluate(dense[0])
    shared = evaluate(dense[1])
    rerun = services.rerun_request(run=shared)
    rerun_evaluate(rerun.pk)
    rerun.refresh_from_db()
    assert rerun.status == Rerun.Status.FINISHED and rerun.differences == []
    assert rerun.record["shared_with"] == "" and rerun.record["time_finetune_s"] > 0


def test_a_result_is_only_lent_by_a_run_that_computed_it_a_listed_one_first(benchmarks, alice):
    bench = benchmarks["digits-mlp"]
    private = make_run(make_submission(make_method("Mine", owner=alice, is_public=False)), bench, 2, 0)
    public = make_run(make_submission(make_method("Theirs", owner=alice)), bench, 2, 0)
    for run in (private, public):
        Run.objects.filter(pk=run.pk).update(result_key="k" * 32)
    assert services.shared_result(key="k" * 32) == public
    Run.objects.filter(pk=public.pk).update(record={**public.record, "shared_with": "someone"})
    assert services.shared_result(key="k" * 32) == private
    assert services.shared_result(key="other") is None
