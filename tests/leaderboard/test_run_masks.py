"""The run page offers the run's masks file; it follows the run's visibility (a private or
withdrawn method's masks never leak), and `python -m evaluator replay --server` verifies a
public run from the site alone."""

import pytest
from django.urls import reverse

from evaluator import maskfile
from evaluator.cli import main
from evaluator.pruning import Mask
from submissions.models import MasksBlob, Run
from submissions.tasks import run_evaluate

from tests.factories import make_method, make_run, make_submission


def keep(run) -> bytes:
    """A masks file stored for the run, as a worker stores it when it records the result."""
    mask = Mask({"fc.weight": [[1, 0], [0, 1]], "out.weight": [[1, 1, 0]]})
    data = maskfile.dumps(mask)
    MasksBlob.objects.create(sha256=mask.sha256(), data=data)
    Run.objects.filter(pk=run.pk).update(masks_sha256=mask.sha256(), record={**run.record, "masks_sha256": mask.sha256()})
    return data


@pytest.fixture
def runs(alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    made = {}
    for name, fields in [("Public", {}), ("Private", {"is_public": False}), ("Hidden", {"is_hidden": True})]:
        made[name] = make_run(make_submission(make_method(name, owner=alice, **fields)), bench, 2, 0)
    withdrawn = make_submission(make_method("Withdrawn", owner=alice))
    withdrawn.withdrawn = True
    withdrawn.save()
    made["Withdrawn"] = make_run(withdrawn, bench, 2, 0)
    return made


def test_a_public_runs_masks_download_as_their_file_and_the_page_links_them(client, runs):
    data = keep(runs["Public"])
    response = client.get(reverse("run-masks", args=[runs["Public"].pk]))
    assert response.status_code == 200 and response.content == data
    assert response["Content-Disposition"].startswith(f'attachment; filename="run-{runs["Public"].pk}-')
    page = client.get(reverse("run", args=[runs["Public"].pk])).content.decode()
    assert f'<a href="/r/{runs["Public"].pk}/masks" download>Download the masks</a>' in page


@pytest.mark.parametrize("name", ["Private", "Hidden", "Withdrawn"])
def test_a_private_hidden_or_withdrawn_methods_masks_do_not_leak_but_their_owner_gets_them(
        client, runs, alice, bob, name):
    data = keep(runs[name])
    url = reverse("run-masks", args=[runs[name].pk])
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.force_login(alice)
    assert client.get(url).content == data


def test_a_run_whose_masks_were_not_kept_says_so_and_offers_none(client, runs):
    run = runs["Public"]
    assert client.get(reverse("run-masks", args=[run.pk])).status_code == 404
    assert "This run's masks were not kept" in client.get(reverse("run", args=[run.pk])).content.decode()


def test_an_unfinished_runs_masks_are_not_offered(client, benchmarks):
    run = make_run(make_submission(make_method("Waiting")), benchmarks["digits-mlp"], 2, 0, status=Run.Status.QUEUED)
    assert client.get(reverse("run-masks", args=[run.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_replay_from_the_server_fetches_the_row_and_masks_and_finds_them_identical(live_server, benchmarks, capsys):
    run = make_run(make_submission(make_method("global-mag-weight", is_baseline=True)), benchmarks["digits-mlp"],
                   2, 1, status=Run.Status.QUEUED)
    run_evaluate(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FINISHED, run.error
    assert main(["replay", "--server", live_server.url, "--run-id", str(run.pk)]) == 0
    assert f"identical: run {run.record['run_id']} (digits-mlp, global-mag-weight, 2x, seed 1)" in capsys.readouterr().out
    assert main(["replay", "--server", live_server.url, "--run-id", str(run.pk + 1000)]) == 2
    assert "the server answered 404 for run" in capsys.readouterr().err
