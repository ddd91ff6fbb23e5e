"""The API carries a run's measured speedup and the machine it was timed on."""

import pytest

from tests.factories import make_method, make_run, make_submission

pytestmark = pytest.mark.django_db


def test_a_run_and_its_submission_give_the_measured_speedup_and_the_machine(client, benchmarks):
    submission = make_submission(make_method("Alpha"))
    run = make_run(submission, benchmarks["digits-mlp"], 16, 0)
    run.take_record({**run.record, "measured_speedup_b64": 1.03, "latency_ms_b64": 0.7,
                     "latency_device": "AMD EPYC 7763 (cpu)"})
    run.save()
    untimed = make_run(submission, benchmarks["digits-mlp"], 4, 0)  # recorded before latency was timed
    untimed.take_record({k: v for k, v in untimed.record.items() if "latency" not in k and "measured" not in k})
    untimed.save()

    body = client.get(f"/api/runs/{run.pk}/").json()
    assert (body["measured_speedup"], body["latency_device"]) == (1.03, "AMD EPYC 7763 (cpu)")
    assert body["record"]["latency_ms_b64"] == 0.7 and body["speedup"] > 10
    assert client.get(f"/api/runs/{untimed.pk}/").json()["measured_speedup"] is None

    rows = {r["id"]: r for r in client.get(f"/api/submissions/{submission.pk}/").json()["runs"]}
    assert rows[run.pk]["measured_speedup"] == 1.03 and rows[run.pk]["latency_device"] == "AMD EPYC 7763 (cpu)"
    assert (rows[untimed.pk]["measured_speedup"], rows[untimed.pk]["latency_device"]) == (None, "")


def test_the_csv_carries_every_latency_column(client, benchmarks):
    run = make_run(make_submission(make_method("Alpha")), benchmarks["digits-mlp"], 16, 0)
    header = b"".join(client.get(f"/r/{run.pk}.csv").streaming_content).decode().splitlines()[0].split(",")
    for column in ("latency_ms_b1", "latency_ms_b64", "dense_latency_ms_b1", "dense_latency_ms_b64",
                   "measured_speedup_b1", "measured_speedup_b64", "latency_threads", "latency_device",
                   "latency_kernel"):
        assert column in header
