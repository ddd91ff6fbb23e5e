"""The upload form: what it accepts, what it refuses and why, and what it queues."""

from unittest import mock

import pytest
from django.urls import reverse

from leaderboard.models import Method
from submissions.models import Run, Submission

EMBEDDED = ("digits-mlp", "digits-cnn", "mnist1d-cnn")


@pytest.fixture
def apply_async(settings):
    settings.PRUNEBOARD_DISPATCH_AHEAD = 100  # the broker may take every run at once (dispatch: a few per worker)
    with mock.patch("submissions.tasks.run_evaluate.apply_async") as patched:
        yield patched


def post(client, benchmarks, upload, follow=False, **fields):
    data = {"file": upload, "name": "Layer magnitude", "description": "Keeps *big* weights.",
            "paper_url": "", "code_url": "", "public": "on",
            "benchmarks": [benchmarks[name].pk for name in EMBEDDED]}
    data.update(fields)
    return client.post(reverse("submit"), data, follow=follow)


def assert_nothing_created():
    assert Submission.objects.count() == Run.objects.count() == Method.objects.count() == 0


def test_it_sends_anonymous_visitors_to_the_login_page(client, benchmarks):
    response = client.get(reverse("submit"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_ticks_the_embedded_benchmarks_and_public_by_default(client, alice, benchmarks):
    client.force_login(alice)
    form = client.get(reverse("submit")).context["form"]
    assert set(form.fields["benchmarks"].initial) == {benchmarks[n].pk for n in EMBEDDED}
    assert form.fields["public"].initial is True


def test_a_good_upload_creates_one_submission_with_every_run_and_queues_them_after_commit(
        client, alice, benchmarks, strategy_upload, apply_async, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, benchmarks, strategy_upload())
    submission = Submission.objects.get()
    assert response.status_code == 302 and response.url == f"/s/{submission.pk}/"
    runs = set(submission.runs.values_list("pk", flat=True))
    assert len(runs) == 3 * 7 * 3
    assert len(callbacks) == 1
    assert {c.kwargs["args"][0] for c in apply_async.call_args_list} == runs
    assert apply_async.call_count == len(runs)
    assert submission.owner == alice and submission.method.name == "Layer magnitude"


def test_it_queues_nothing_before_the_commit(client, alice, benchmarks, strategy_upload, apply_async):
    client.force_login(alice)
    post(client, benchmarks, strategy_upload())
    assert Run.objects.count() == 63
    apply_async.assert_not_called()


BIG = b"# padding\n" * 27000 + b"class S(Pruning):\n    pass\n"


@pytest.mark.parametrize("filename,content,message", [
    ("strategy.txt", b"x = 1\n", "must be a Python file ending in .py"),
    ("strategy.py", BIG, "the limit is 256 KB"),
    ("strategy.py", b"x = '\xff\xfe'\n", "is not UTF-8 text"),
    ("strategy.py", b"def model_masks(self:\n    pass\n", "does not parse as Python"),
    ("strategy.py", b"import numpy\nx = 1\n", "defines no strategy"),
    ("strategy.py", b"x = 1\0\n", "contains a null byte"),
    ("strategy.py", b"PK\x03\x04\x14\x00\x00\x00rest of a zip", "is a zip archive"),
], ids=["not-python", "too-big", "not-utf8", "no-parse", "no-strategy", "null-byte", "zip"])
def test_it_refuses_a_bad_file_with_the_reason_and_queues_nothing(
        client, alice, benchmarks, strategy_upload, filename, content, message,
        django_capture_on_commit_callbacks):
    client.force_login(alice)
    with mock.patch("submissions.services.runs_enqueue") as enqueue, \
            django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, benchmarks, strategy_upload(content, filename))
    assert response.status_code == 200
    [error] = response.context["form"].errors["file"]
    assert message in error
    assert message in response.content.decode()
    assert callbacks == [] and not enqueue.called
    assert_nothing_created()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org/paper.pdf"])
def test_it_refuses_a_link_that_is_not_http_and_creates_nothing(client, alice, benchmarks, strategy_upload, url):
    client.force_login(alice)
    response = post(client, benchmarks, strategy_upload(), paper_url=url, code_url=url)
    form = response.context["form"]
    for field in ("paper_url", "code_url"):
        assert "Only http:// and https:// links are accepted" in form.errors[field][0]
    assert_nothing_created()


def test_it_accepts_https_links(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    post(client, benchmarks, strategy_upload(), paper_url="https://arxiv.org/abs/2003.03033",
         code_url="http://example.org/code")
    method = Method.objects.get()
    assert (method.paper_url, method.code_url) == ("https://arxiv.org/abs/2003.03033", "http://example.org/code")


def test_the_same_file_again_leads_to_the_first_submission_and_creates_nothing(
        client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    first = post(client, benchmarks, strategy_upload())
    again = post(client, benchmarks, strategy_upload(), name="Another name", follow=True)
    submission = Submission.objects.get()
    assert again.redirect_chain[-1][0] == first.url == submission.get_absolute_url()
    assert "You already submitted this file; here is that submission (version 1 of" in again.content.decode()
    assert Run.objects.count() == 63 and Method.objects.count() == 1


def test_the_same_file_from_another_owner_is_a_new_submission(client, alice, bob, benchmarks, strategy_upload):
    client.force_login(alice)
    post(client, benchmarks, strategy_upload())
    client.force_login(bob)
    post(client, benchmarks, strategy_upload())
    assert Submission.objects.count() == 2
    assert set(Submission.objects.values_list("owner__username", flat=True)) == {"alice", "bob"}


def test_a_name_with_markup_is_escaped_wherever_it_shows(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    name = "<script>alert(1)</script>"
    response = post(client, benchmarks, strategy_upload(), name=name, follow=True)
    for page in (response, client.get(reverse("my-submissions"))):
        html = page.content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert name not in html
