"""The built-ins' slugs are reserved: an entry can never take "reference-lamp" or anything under
"baseline-"/"reference-" (upload form, API, admin), and the built-ins are found by their
registry name (Method.builtin_name), so an entry that took such a slug before can never stop
`seed_baselines`. alice uploads; the moderator is staff."""

from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leaderboard.metadata import slug_reserved
from leaderboard.models import Method
from submissions import services
from submissions.models import Submission

from tests.factories import make_method

RESERVED = "The name 'Reference LAMP' would give the method the address /m/reference-lamp/, which is reserved"


@pytest.fixture
def queued(monkeypatch):
    runs = []
    monkeypatch.setattr("leaderboard.management.commands.seed_baselines.runs_enqueue", runs.extend)
    return runs


@pytest.mark.parametrize("slug", ["reference-lamp", "baseline-random", "reference-a-method-of-a-later-release",
                                  "baseline", "builtin-x"])
def test_every_builtin_slug_and_prefix_is_reserved(slug):
    assert slug_reserved(slug)


@pytest.mark.parametrize("slug", ["lamp", "my-reference-lamp", "baselines-are-weak", "referenced"])
def test_other_slugs_are_not(slug):
    assert not slug_reserved(slug)


def test_the_upload_form_refuses_a_builtins_name(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    response = client.post(reverse("submit"), {"file": strategy_upload(), "name": "Reference LAMP",
                                               "benchmarks": [benchmarks["digits-mlp"].pk], "public": "on"})
    assert response.status_code == 200
    assert response.context["form"].errors["name"][0].startswith(RESERVED)
    assert not Method.objects.filter(owner=alice).exists()


def test_the_api_refuses_a_builtins_name(alice, benchmarks, strategy_upload):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    response = api.post("/api/submissions/", {"file": strategy_upload(), "name": "Reference LAMP",
                                              "benchmarks": "digits-mlp"}, format="multipart")
    assert response.status_code == 400 and response.json()["name"][0].startswith(RESERVED)
    assert not Method.objects.filter(owner=alice).exists()


def test_a_caller_that_skips_the_check_still_never_gets_a_reserved_slug(alice, benchmarks, strategy_upload):
    with mock.patch("submissions.tasks.run_evaluate.apply_async"):
        submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Reference LAMP",
                                                   benchmarks=[benchmarks["digits-mlp"]])
    assert submission.method.slug == "entry-reference-lamp"


def test_the_admin_refuses_an_entry_a_builtins_slug(client, moderator, alice):
    method = make_method("Alpha", owner=alice)
    client.force_login(moderator)
    url = reverse("admin:leaderboard_method_change", args=[method.pk])
    form = {"name": "Alpha", "slug": "baseline-random", "description": "", "owner": alice.pk, "is_public": "on",
            "title": "", "authors": "", "venue": "", "year": "", "bibtex": "", "granularity": "",
            "data_use": "", "schedule": "", "keywords": "", "paper_url": "", "code_url": ""}
    response = client.post(url, form)
    assert response.status_code == 200
    assert "The address /m/baseline-random/ is reserved" in response.content.decode()
    method.refresh_from_db()
    assert method.slug == "alpha"
    assert client.post(url, {**form, "slug": "alpha-2"}).status_code == 302  # any other slug saves


def test_seeding_finds_the_builtins_by_name_beside_an_entry_that_took_a_builtins_slug(
        alice, benchmarks, queued):
    squatter = make_method("Reference LAMP", owner=alice, slug="reference-lamp")  # made before the check
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    lamp = Method.objects.get(builtin_name="lamp")
    assert (lamp.is_reference, lamp.owner, lamp.slug) == (True, None, "reference-lamp-2")
    squatter.refresh_from_db()
    assert (squatter.owner, squatter.is_reference, squatter.slug) == (alice, False, "reference-lamp")
    assert not Submission.objects.filter(method=squatter).exists()
    call_command("seed_baselines", "--benchmarks", "digits-mlp")  # and again: nothing new, no error
    assert Method.objects.filter(builtin_name="lamp").count() == 1 and len(queued) == 21 * 12


def test_a_builtin_keeps_its_usual_slug_when_nobody_took_it(benchmarks, queued):
    call_command("seed_baselines", "--benchmarks", "digits-mlp")
    assert Method.objects.get(builtin_name="lamp").slug == "reference-lamp"
    assert Method.objects.get(builtin_name="random").slug == "baseline-random"


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_the_existing_builtins_and_leaves_an_entry_with_their_slug_alone():
    before, after = [("leaderboard", "0005_benchmark_track")], [("leaderboard", "0006_method_builtin_name")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User, Method_ = old.get_model("auth", "User"), old.get_model("leaderboard", "Method")
    alice = User.objects.create(username="alice")
    Method_.objects.create(name="random", slug="baseline-random", is_baseline=True)
    Method_.objects.create(name="snip", slug="reference-snip", is_reference=True)
    Method_.objects.create(name="Reference LAMP", slug="reference-lamp", owner=alice)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("leaderboard", "Method")
    assert dict(new.objects.values_list("slug", "builtin_name")) == {
        "baseline-random": "random", "reference-snip": "snip", "reference-lamp": ""}
    MigrationExecutor(connection).migrate(leaves)
