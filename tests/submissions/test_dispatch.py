"""The database is the queue of record: the dispatcher hands the broker a few runs at a time, in
priority order (researchers before fill-in, round-robin by user, older submissions first), and
sends again what the broker lost."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leaderboard.models import Benchmark
from submissions import dispatch, services, tasks
from submissions.models import Rerun, Run
from tests.factories import make_record


class Broker:
    """Stands in for Celery's broker: what was sent, and how many messages it still holds."""

    def __init__(self):
        self.sent = []
        self.held = None  # None: everything sent is still there

    def send(self, args, queue, **limits):
        self.sent.append(args[0])

    def count(self, queue):
        return len(self.sent) if self.held is None else self.held


@pytest.fixture
def broker(settings):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 2
    fake = Broker()
    with mock.patch.object(tasks.run_evaluate, "apply_async", side_effect=fake.send), \
            mock.patch.object(tasks.rerun_evaluate, "apply_async", side_effect=fake.send), \
            mock.patch.object(dispatch, "broker_count", side_effect=fake.count):
        yield fake


@pytest.fixture
def upload(benchmarks, strategy_upload):
    def make(user, variant="", benchmark="digits-mlp"):
        upload = strategy_upload(b"%s\n# %s\n" % (strategy_upload().read(), variant.encode()))
        submission, _ = services.submission_create(user=user, upload=upload, name=f"{user} {variant}",
                                                   benchmarks=[benchmarks[benchmark]])
        return submission
    return make


@pytest.fixture
def no_share(settings):
    """The fill-in keeps no share: researchers' work strictly first (test_fillin_share.py tests the share)."""
    settings.PRUNEBOARD_FILLIN_SHARE = 0


def owners(items):
    return [Run.objects.get(pk=i.pk).submission.owner for i in items]


def test_a_researchers_first_upload_goes_before_the_baselines_queued_earlier(benchmarks, alice, upload, no_share):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    mine = upload(alice)
    order = dispatch.waiting("cpu")
    assert len(order) == 42
    assert {i.pk for i in order[:21]} == set(mine.runs.values_list("pk", flat=True))
    assert all(i.fill_in for i in order[21:])


def test_reference_methods_fill_in_after_researchers_like_the_baselines(benchmarks, alice, upload, no_share):
    services.baseline_ensure("snip", [benchmarks["digits-mlp"]])
    mine = upload(alice)
    order = dispatch.waiting("cpu")
    assert {i.pk for i in order[:21]} == set(mine.runs.values_list("pk", flat=True))
    assert all(i.fill_in for i in order[21:]) and len(order) == 42


def test_the_baselines_fill_in_seed_0_first(benchmarks):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    services.baseline_ensure("global-mag-weight", [benchmarks["digits-mlp"]])
    seeds = [Run.objects.get(pk=i.pk).seed for i in dispatch.waiting("cpu")]
    assert seeds == sorted(seeds) and seeds[:14] == [0] * 14


def test_users_take_turns_so_one_users_backlog_does_not_hold_back_anothers_first_run(alice, bob, upload):
    first, second = upload(alice, "a"), upload(alice, "b")
    bobs = upload(bob)
    order = dispatch.waiting("cpu")
    submissions = [Run.objects.get(pk=i.pk).submission for i in order]
    assert submissions[:3] == [first, second, bobs]  # each one's quick check, oldest first
    assert owners(order[3:5]) == [alice, bob]  # then turns
    alices = [s for s in submissions[3:] if s.owner == alice]
    assert alices == [first] * 20 + [second] * 20  # older submissions first
    assert {i.pk for i in order[:43]} >= set(bobs.runs.values_list("pk", flat=True))


def test_a_new_submissions_first_run_is_a_quick_check_ahead_of_the_users_own_backlog(alice, bob, upload, broker, no_share):
    backlog = upload(alice, "147 runs")
    services.baseline_ensure("random", [backlog.benchmarks.first()])
    assert dispatch.runs_dispatch()["sent"] == 2  # the backlog is under way
    broken = upload(alice, "a broken file")
    later = upload(bob, "bob's")
    order = dispatch.waiting("cpu")
    assert [Run.objects.get(pk=i.pk).submission for i in order[:2]] == [broken, later]
    assert dispatch.runs_dispatch()["sent"] == 0  # the broker is full; the next free place is the check's
    services.run_start(broker.sent[0], host="w1")
    dispatch.runs_dispatch()
    assert Run.objects.get(pk=broker.sent[-1]).submission == broken
    # the check sent, the rest of the new submission waits its turn behind the older one
    rest = [Run.objects.get(pk=i.pk).submission for i in dispatch.waiting("cpu") if not i.fill_in]
    assert rest[0] == later and rest.index(broken) > rest.index(backlog)


def test_the_broker_holds_only_a_few_runs_per_busy_worker(alice, upload, broker):
    submission = upload(alice)
    assert dispatch.runs_dispatch() == {"sent": 2, "lost": 0}
    assert dispatch.runs_dispatch()["sent"] == 0  # full: the rest waits in the database
    services.run_start(broker.sent[0], host="w1")  # a worker took one and is busy with it
    assert dispatch.runs_dispatch()["sent"] == 1
    assert submission.runs.filter(queued_at__isnull=False, status=Run.Status.QUEUED).count() == 2
    assert len(set(broker.sent)) == len(broker.sent) == 3


def test_a_batchs_runs_count_as_one_busy_worker(alice, upload, broker):
    """A worker scoring a batch holds its runs by one lease token: the broker is not filled for
    each of them, so a researcher's later run is not stuck behind messages sent for them."""
    submission = upload(alice)
    assert dispatch.runs_dispatch()["sent"] == 2
    first = broker.sent[0]
    run, token = services.run_start(first, host="w1")
    waiting = submission.runs.filter(status=Run.Status.QUEUED, queued_at__isnull=True)
    jobs = list(waiting.values_list("compression", "seed")[:6])
    assert len(services.batch_start(run, jobs, host="w1", token=token)) == 6
    assert submission.runs.filter(status=Run.Status.RUNNING, lease_token=token).count() == 7
    assert dispatch.runs_dispatch()["sent"] == 1  # 2 per busy worker: one busy worker, one already sent


def test_a_batchs_heartbeat_renews_the_leases_of_the_runs_it_started(alice, upload, broker, settings):
    submission = upload(alice)
    first, second = submission.runs.order_by("seed", "compression")[:2]
    run, token = services.run_start(first.pk, host="w1")
    services.batch_start(run, [(second.compression, second.seed)], host="w1", token=token)
    Run.objects.filter(pk__in=[first.pk, second.pk]).update(lease_expires=timezone.now())
    assert services.run_heartbeat(first.pk, token)
    for renewed in Run.objects.filter(pk__in=[first.pk, second.pk]):
        assert renewed.lease_expires > timezone.now() + timedelta(seconds=settings.PRUNEBOARD_LEASE_SECONDS - 30)
    assert services.runs_reap() == {"requeued": 0, "failed": 0}


# a tick's queries: the lost check (1), the queues waiting (1), the rooms (2), the benchmarks (1),
# what every queue's head needs (3: the submissions, the re-runs, the last dispatches), then per
# queue with room the rest of its head (at most 4: more only where the head reaches far), and
# one claim per kind of work sent
TICK_QUERIES = 14


@pytest.mark.parametrize("ahead", [2, 16])
def test_a_tick_makes_a_few_queries_however_many_runs_it_sends(alice, bob, upload, broker, settings, ahead):
    settings.PRUNEBOARD_DISPATCH_AHEAD = ahead
    upload(alice, "a"), upload(alice, "b"), upload(bob)
    services.baseline_ensure("random", [Run.objects.first().benchmark, Benchmark.objects.get(name="cifar10-vgg")])
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.runs_dispatch()["sent"] == 2 * ahead  # both queues
    sql = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]  # the tests' transaction's
    assert len(sql) <= TICK_QUERIES, "\n".join(sql)


def test_runs_of_a_post_that_died_after_its_commit_are_sent(alice, upload, broker):
    submission = upload(alice)  # its on_commit never ran: no message, no queued_at
    assert submission.runs.filter(queued_at__isnull=True).count() == 21 and broker.sent == []
    tasks.runs_dispatch.apply()
    assert len(broker.sent) == 2


def test_runs_the_broker_lost_are_sent_again(alice, upload, broker):
    submission = upload(alice)
    dispatch.runs_dispatch()
    first = list(broker.sent)
    broker.held = 2  # all there: nothing is resent, however old
    submission.runs.filter(queued_at__isnull=False).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert dispatch.runs_dispatch() == {"sent": 0, "lost": 0}
    broker.held = 0  # Redis restarted, or the broker file was deleted
    assert dispatch.runs_dispatch() == {"sent": 2, "lost": 2}
    assert broker.sent[2:] == first  # the same runs, at the head of the queue again


def test_a_message_just_sent_is_not_taken_for_lost(alice, upload, broker, settings):
    upload(alice)
    dispatch.runs_dispatch()
    broker.held = 0  # a worker took both and has not marked them running yet
    assert dispatch.runs_dispatch() == {"sent": 0, "lost": 0}


def test_a_run_sent_twice_is_still_evaluated_and_recorded_once(alice, upload, broker):
    submission = upload(alice)
    dispatch.runs_dispatch()
    submission.runs.update(queued_at=timezone.now() - timedelta(minutes=5))
    broker.held = 0
    dispatch.runs_dispatch()
    run_id = broker.sent[0]
    assert broker.sent.count(run_id) == 2
    with mock.patch.object(tasks, "evaluate_run", return_value=make_record()) as evaluate:
        for delivered in broker.sent:
            if delivered == run_id:
                tasks.run_evaluate.apply(args=[delivered])
    assert evaluate.call_count == 1
    run = Run.objects.get(pk=run_id)
    assert run.status == Run.Status.FINISHED and run.attempt == 1


def test_a_reaped_run_goes_back_before_the_users_later_runs(alice, upload, broker):
    submission = upload(alice)
    dispatch.runs_dispatch()
    killed = broker.sent[0]
    services.run_start(killed, host="w1")
    Run.objects.filter(pk=killed).update(lease_expires=timezone.now() - timedelta(seconds=1))
    assert services.runs_reap() == {"requeued": 1, "failed": 0}
    assert dispatch.waiting("cpu")[0].pk == killed
    assert Run.objects.get(pk=killed).queued_at is None


def test_a_queued_rerun_waits_in_the_database_and_is_sent_again_if_lost(alice, upload, broker, settings):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 30
    submission = upload(alice)
    run = submission.runs.first()
    services.run_record_result(run=run, record=make_record())
    rerun = services.rerun_request(run=run, user=alice)
    assert Rerun.objects.get(pk=rerun.pk).queued_at is None
    dispatch.runs_dispatch()
    assert broker.sent.count(rerun.pk) >= 1 and Rerun.objects.get(pk=rerun.pk).queued_at is not None
    Rerun.objects.filter(pk=rerun.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    submission.runs.update(queued_at=timezone.now())  # the runs' messages are still there
    broker.held = 20
    assert dispatch.runs_dispatch()["lost"] == 1
    assert services.rerun_start(rerun.pk) is not None
    assert services.rerun_start(rerun.pk) is None  # a duplicate delivery does nothing


def test_a_cancelled_submission_is_never_sent(alice, upload, broker):
    submission = upload(alice)
    services.submission_cancel(submission)
    assert dispatch.runs_dispatch()["sent"] == 0


def test_the_status_page_shows_the_queue_position(client, benchmarks, alice, bob, upload, broker):
    services.baseline_ensure("random", [benchmarks["digits-mlp"]])
    alices = upload(alice)
    dispatch.runs_dispatch()  # two of alice's runs are in the broker
    bobs = upload(bob)
    assert dispatch.queue_position(alices) == 0
    # bob's first run is a quick check: behind only the two in the broker
    assert dispatch.queue_position(bobs) == 2
    client.force_login(bob)
    assert "2 runs ahead of yours" in client.get(bobs.get_absolute_url()).content.decode()


def test_the_progress_json_carries_the_queue_position_as_it_moves(client, benchmarks, alice, bob, upload, broker):
    alices = upload(alice)
    dispatch.runs_dispatch()  # two of alice's runs are in the broker
    bobs = upload(bob)
    url = f"/s/{bobs.pk}/progress.json"
    assert client.get(url).json()["queue_position"] == 2  # bob's quick check, behind the broker's two
    Run.objects.filter(submission=alices, queued_at__isnull=False).update(status=Run.Status.RUNNING)
    assert client.get(url).json()["queue_position"] == 0  # nothing ahead of it now
    dispatch.runs_dispatch()  # a worker's turn: bob's check and alice's next are sent
    assert client.get(url).json()["queue_position"] == 0
    Run.objects.filter(submission=bobs).update(status=Run.Status.FINISHED)
    assert client.get(url).json()["queue_position"] is None


def test_a_broker_that_is_away_leaves_the_runs_waiting_and_the_upload_succeeds(
        client, alice, benchmarks, strategy_upload, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with mock.patch.object(tasks.run_evaluate, "apply_async", side_effect=OSError("connection refused")) as send, \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post("/submit/", {"file": strategy_upload(), "name": "Mine", "public": "on",
                                            "benchmarks": [benchmarks["digits-mlp"].pk]})
    assert response.status_code == 302 and send.call_count == 1
    assert Run.objects.filter(status=Run.Status.QUEUED, queued_at__isnull=True).count() == 21
