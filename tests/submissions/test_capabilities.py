"""Only runnable benchmarks are offered: a benchmark is runnable when a live worker of its queue
reports its weights verified and its data present. alice submits; the workers report."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.benchmarks import list_benchmarks
from leaderboard.models import Method
from submissions import capabilities, services
from submissions.models import Rerun, Run, Submission, WorkerHeartbeat

from tests.factories import make_record

EMBEDDED = ("digits-mlp", "digits-cnn", "mnist1d-cnn")


def report(names, **problems) -> dict:
    """A worker's capabilities: each named benchmark with its pinned weights, unless `problems`
    says weights=... or data=... for all of them."""
    pinned = {b.name: b.weights_sha256 or "" for b in list_benchmarks()}
    return {n: {"weights": problems.get("weights", ""), "data": problems.get("data", ""),
                "weights_sha256": problems.get("sha", pinned[n])} for n in names}


@pytest.fixture
def only(benchmarks, live_worker):
    """Replace the all-capable test worker with the given reports: only(host=(queues, caps), ...)."""
    def make(**workers):
        WorkerHeartbeat.objects.all().delete()
        for host, (queues, caps) in workers.items():
            capabilities.worker_heartbeat(hostname=host, queues=queues, device="cpu", capabilities=caps)
    return make


def missing() -> dict:
    return {n: a.missing for n, a in capabilities.availability().items() if not a.runnable}


def test_a_cpu_worker_with_the_embedded_weights_makes_exactly_those_runnable(only):
    only(local=(["cpu"], report(EMBEDDED)))
    assert capabilities.runnable_names() == set(EMBEDDED)
    assert missing()["cifar10-resnet20"] == "no worker for its queue (gpu)"


def test_what_is_missing_is_said_weights_before_data(only):
    only(gpu1=(["gpu"], report(["cifar10-resnet20"], weights="no weights for benchmark ...")),
         gpu2=(["gpu"], report(["mnist-lenet"], data="MNIST not found at /data/MNIST/raw")),
         cpu=(["cpu"], report(EMBEDDED)))
    gaps = missing()
    assert gaps["cifar10-resnet20"] == "no weights (no worker of its queue has them verified)"
    assert gaps["mnist-lenet"] == "no data (no worker of its queue has the mnist dataset)"
    # a worker of an older version that does not know the benchmark
    assert gaps["imagenet-resnet18"] == "no worker of its queue knows it (they run another version of the code)"


def test_one_capable_worker_is_enough(only):
    only(bare=(["gpu"], report(["mnist-lenet"], data="not here")), full=(["gpu"], report(["mnist-lenet"])))
    assert "mnist-lenet" in capabilities.runnable_names()


def test_weights_other_than_the_pinned_ones_do_not_count(only):
    only(odd=(["cpu"], report(EMBEDDED, sha="0" * 64)))
    assert capabilities.runnable_names() == set()
    assert missing()["digits-mlp"].startswith("no weights (the workers' have SHA-256 000000000000…; the site pins 5a7f0f0f6e2c…")


def test_a_worker_not_heard_from_for_the_stale_time_no_longer_counts(only, settings):
    only(old=(["cpu"], report(EMBEDDED)))
    WorkerHeartbeat.objects.update(
        last_seen=timezone.now() - timedelta(seconds=settings.PRUNEBOARD_WORKER_STALE_SECONDS + 1))
    found = capabilities.availability()
    assert not any(a.runnable for a in found.values())
    assert found["digits-mlp"].waiting
    assert found["digits-mlp"].missing == "waiting for a worker (none has reported in the last 120 s)"


def test_a_heartbeat_refreshes_the_same_row_and_keeps_its_start(only):
    only()
    first = capabilities.worker_heartbeat(hostname="w@h", queues=["cpu"], device="cpu", capabilities={})
    later = capabilities.worker_heartbeat(hostname="w@h", queues=["cpu"], device="cpu",
                                          capabilities=report(EMBEDDED), started=first.started)
    assert WorkerHeartbeat.objects.count() == 1
    assert later.last_seen >= first.last_seen and later.started == first.started
    assert capabilities.runnable_names() == set(EMBEDDED)


def test_this_machine_reports_the_embedded_benchmarks_and_what_the_others_lack(settings, tmp_path):
    """The real probe (evaluator.availability): the committed weights verify, scikit-learn and
    mnist1d are installed; CIFAR has neither weights nor data here."""
    settings.PRUNEBOARD_DATA_ROOT = str(tmp_path)
    caps = capabilities.worker_report(["cpu", "gpu"])
    for name in EMBEDDED:
        assert caps[name]["weights"] == caps[name]["data"] == "", caps[name]
    assert "no weights for benchmark 'cifar10-resnet20'" in caps["cifar10-resnet20"]["weights"]
    assert caps["cifar10-resnet20"]["data"].startswith(f"CIFAR-10 not found at {tmp_path}/cifar-10-batches-py")
    # the cpu queue: the embedded benchmarks on every track they offer (digits-mlp/init, ...)
    from evaluator.benchmarks import list_benchmarks
    on_cpu = {b.name for b in list_benchmarks() if b.queue == "cpu"}
    assert set(EMBEDDED) < on_cpu and "digits-mlp/init" in on_cpu
    assert set(capabilities.worker_report(["cpu"])) == on_cpu
    for name in on_cpu:
        assert caps[name]["weights"] == caps[name]["data"] == "", caps[name]
    assert capabilities.worker_report(["control"]) == {}


# The submit form

def post(client, benchmarks, upload, names):
    return client.post(reverse("submit"), {"file": upload, "name": "Layer magnitude", "public": "on",
                                           "benchmarks": [benchmarks[n].pk for n in names]})


def test_the_form_offers_only_runnable_benchmarks_and_lists_the_others(client, alice, benchmarks, only):
    only(local=(["cpu", "gpu"], report(EMBEDDED) | report(["cifar10-resnet20"], weights="none")))
    client.force_login(alice)
    response = client.get(reverse("submit"))
    offered = {pk for pk, _ in response.context["form"].fields["benchmarks"].choices}
    assert offered == {benchmarks[n].pk for n in EMBEDDED}
    page = response.content.decode()
    assert 'value="%d"' % benchmarks["cifar10-resnet20"].pk not in page
    assert "Not available on this server:" in page
    assert "cifar10-resnet20 (no weights (no worker of its queue has them verified))" in page


def test_a_forged_post_to_an_unrunnable_benchmark_is_refused_naming_what_is_missing(
        client, alice, benchmarks, only, strategy_upload):
    only(local=(["cpu"], report(EMBEDDED)))
    client.force_login(alice)
    response = post(client, benchmarks, strategy_upload(), ["digits-mlp", "cifar10-resnet20"])
    assert response.status_code == 200
    assert response.context["form"].errors["benchmarks"] == [
        "cifar10-resnet20 is not available on this server: no worker for its queue (gpu)"]
    assert not Submission.objects.exists() and not Method.objects.exists() and not Run.objects.exists()


def test_before_any_worker_has_reported_the_form_says_it_is_waiting(client, alice, benchmarks, only):
    only()
    client.force_login(alice)
    response = client.get(reverse("submit"))
    assert response.context["form"].fields["benchmarks"].choices == []
    assert "Waiting for a worker" in response.content.decode()


def test_the_home_page_says_what_each_unavailable_benchmark_lacks(client, only):
    others = [b.name for b in list_benchmarks() if b.name not in EMBEDDED and b.name != "mnist-lenet"]
    only(local=(["cpu", "gpu"], report(EMBEDDED) | report(["mnist-lenet"], data="gone")
                | report(others, weights="none")))
    page = client.get("/").content.decode()
    assert "not available on this server: no data (no worker of its queue has the mnist dataset)" in page
    assert "not available on this server: no weights (no worker of its queue has them verified)" in page
    assert page.count("not available on this server") == len(list_benchmarks()) - len(EMBEDDED)


# The API

def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_the_api_marks_each_benchmark_runnable_or_says_what_is_missing(only):
    only(local=(["cpu"], report(EMBEDDED)))
    rows = {b["name"]: b for b in APIClient().get("/api/benchmarks/").json()["results"]}
    assert rows["digits-mlp"]["runnable"] is True and rows["digits-mlp"]["missing"] == ""
    assert rows["cifar10-vgg"]["runnable"] is False
    assert rows["cifar10-vgg"]["missing"] == "no worker for its queue (gpu)"


def test_an_api_upload_to_an_unrunnable_benchmark_is_400_and_stores_nothing(alice, only, strategy_upload):
    only(local=(["cpu"], report(EMBEDDED)))
    response = api_as(alice).post("/api/submissions/", {"file": strategy_upload(), "name": "m",
                                                        "benchmarks": "digits-mlp,imagenet-resnet18"},
                                  format="multipart")
    assert response.status_code == 400
    assert response.json() == {"benchmarks": [
        "imagenet-resnet18 is not available on this server: no worker for its queue (gpu)"]}
    assert not Submission.objects.exists() and not Method.objects.exists()


def test_an_api_upload_naming_no_benchmark_takes_the_runnable_embedded_ones(alice, only, strategy_upload):
    only(local=(["cpu"], report(["digits-mlp"])))
    response = api_as(alice).post("/api/submissions/", {"file": strategy_upload(), "name": "m"},
                                  format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["benchmarks"] == ["digits-mlp"]


def test_an_api_upload_before_any_worker_is_400_saying_so(alice, only, strategy_upload):
    only()
    response = api_as(alice).post("/api/submissions/", {"file": strategy_upload(), "name": "m"},
                                  format="multipart")
    assert response.status_code == 400
    assert response.json() == {"benchmarks": [
        "no embedded benchmark is available on this server now: waiting for a worker "
        "(none has reported in the last 120 s)"]}


# Entering a method on more benchmarks, and re-runs

def _entered(alice, benchmarks, strategy_upload):
    return services.submission_create(user=alice, upload=strategy_upload(), name="Mine",
                                      benchmarks=[benchmarks["digits-mlp"]])[0]


def test_the_method_page_offers_only_runnable_benchmarks_and_refuses_a_forged_one(
        client, alice, benchmarks, only, strategy_upload):
    submission = _entered(alice, benchmarks, strategy_upload)
    only(local=(["cpu"], report(EMBEDDED)))
    client.force_login(alice)
    form = client.get(submission.method.get_absolute_url()).context["enter_form"]
    assert {b.name for b in form.fields["benchmarks"].queryset} == {"digits-cnn", "mnist1d-cnn"}
    response = client.post(reverse("method-enter", args=[submission.method.slug]),
                           {"benchmarks": [benchmarks["cifar10-resnet20"].pk]}, follow=True)
    assert "Choose at least one benchmark it is not on yet, among those offered" in response.content.decode()
    assert not Run.objects.filter(benchmark__name="cifar10-resnet20").exists()
    refused = api_as(alice).post(f"/api/methods/{submission.method.slug}/benchmarks/",
                                 {"benchmarks": "cifar10-resnet20"})
    assert refused.status_code == 400
    assert refused.json() == {"benchmarks": [
        "cifar10-resnet20 is not available on this server: no worker for its queue (gpu)"]}
    assert not Run.objects.filter(benchmark__name="cifar10-resnet20").exists()


def test_a_rerun_on_a_benchmark_no_worker_can_run_now_is_refused_saying_why(alice, benchmarks, only,
                                                                              strategy_upload):
    submission = _entered(alice, benchmarks, strategy_upload)
    run = submission.runs.first()
    services.run_record_result(run=run, record=make_record(top1=0.9))
    only(local=(["cpu"], report(["digits-cnn"])))  # the worker that had digits-mlp's data lost it
    response = api_as(alice).post(f"/api/runs/{run.pk}/rerun/")
    assert response.status_code == 400
    assert response.json() == {"detail": "digits-mlp is not available on this server: no worker of its "
                                         "queue knows it (they run another version of the code)"}
    assert not Rerun.objects.exists()
    only(local=(["cpu"], report(["digits-mlp"])))
    assert api_as(alice).post(f"/api/runs/{run.pk}/rerun/").status_code == 202


@pytest.mark.django_db
def test_a_heartbeat_that_reached_the_database_marks_the_worker_alive_for_its_health_check(settings, tmp_path, monkeypatch):
    alive = tmp_path / "worker-alive"
    monkeypatch.setattr(capabilities, "ALIVE", alive)
    capabilities.WorkerBeat("cpu-1@host", ["cpu"]).beat()
    assert alive.exists()


@pytest.mark.django_db
def test_the_health_address_answers_ok_while_the_database_answers(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.content == b"ok"


def test_the_health_address_answers_503_saying_why_when_the_database_is_gone(client, monkeypatch):
    from django.db import OperationalError, connection

    def refuse(*_, **__):
        raise OperationalError("connection refused")
    monkeypatch.setattr(connection, "cursor", refuse)
    answer = client.get("/healthz")
    assert answer.status_code == 503 and b"database unreachable: OperationalError" in answer.content
