"""What a user types into a method is capped in length on every path (upload form, edit form,
API, admin), with an error naming the field and the cap; and a description costs time linear in
its length: rendered once when saved (cmark-gfm, nesting bounded, then nh3), never by a page.
alice owns the method; the moderator is staff."""

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from leaderboard import markdown
from leaderboard.models import Method
from leaderboard.services import method_update
from submissions import services

from tests.factories import make_method
from tests.api.test_api import as_user

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["name", "description", "title", "authors", "venue", "bibtex", "keywords", "paper_url", "code_url"]
sys.path.insert(0, str(ROOT / "benchmarks"))
from markdown_render import CASES as PATHOLOGICAL  # noqa: E402  20,000 characters each

TOO_LONG = "Description is too long: at most 20000 characters (it has 20001)."


def test_every_text_of_a_method_has_a_cap_on_the_model(db):
    assert all(Method._meta.get_field(f).max_length for f in TEXTS)
    with pytest.raises(ValidationError) as caught:
        Method(name="x", slug="x", description="a" * 20_001).full_clean()
    assert "description" in caught.value.message_dict


def test_the_upload_form_refuses_a_long_description_and_name(client, alice, benchmarks, strategy_upload):
    client.force_login(alice)
    response = client.post(reverse("submit"), {
        "file": strategy_upload(), "name": "n" * 101, "description": "[" * 20_001,
        "benchmarks": [benchmarks["digits-mlp"].pk], "public": "on"})
    errors = response.context["form"].errors
    assert errors["description"] == [TOO_LONG]
    assert errors["name"] == ["Name is too long: at most 100 characters (it has 101)."]
    assert not Method.objects.filter(owner=alice).exists()


@pytest.mark.parametrize("field, cap", [("description", 20_000), ("title", 300), ("authors", 500),
                                        ("venue", 100), ("keywords", 500), ("paper_url", 200)])
def test_the_edit_form_refuses_each_text_over_its_cap(client, alice, field, cap):
    make_method("Mine", owner=alice)
    client.force_login(alice)
    value = "https://example.org/" + "a" * cap if field == "paper_url" else "a" * (cap + 1)
    response = client.post("/m/mine/edit/", {"year": "", field: value, "is_public": "on"})
    assert response.status_code == 200
    [error] = response.context["form"].errors[field]
    assert "is too long: at most" in error and f"{cap} characters" in error
    assert getattr(Method.objects.get(slug="mine"), field) == ""


def test_the_edit_form_refused_the_two_megabyte_description_the_issue_sent(client, alice):
    make_method("Mine", owner=alice)
    client.force_login(alice)
    response = client.post("/m/mine/edit/", {"description": "[" * 2_000_000, "is_public": "on"})
    assert response.context["form"].errors["description"][0].startswith("Description is too long")


def test_the_api_refuses_a_long_description_on_upload(alice, benchmarks, strategy_upload):
    response = as_user(alice).post("/api/submissions/", {"file": strategy_upload(), "name": "Mine",
                                                         "description": "[" * 20_001, "benchmarks": "digits-mlp"},
                                   format="multipart")
    assert response.status_code == 400
    assert response.json()["description"] == ["description is too long: at most 20000 characters"]


@pytest.mark.parametrize("field, cap", [("description", 20_000), ("title", 300), ("authors", 500), ("venue", 100)])
def test_the_api_refuses_each_text_over_its_cap_on_edit(alice, field, cap):
    make_method("Mine", owner=alice)
    response = as_user(alice).patch("/api/methods/mine/", {field: "a" * (cap + 1)}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [f"{field} is too long: at most {cap} characters"]


def test_the_admin_refuses_a_long_description(client, moderator, alice):
    method = make_method("Alpha", owner=alice)
    client.force_login(moderator)
    response = client.post(reverse("admin:leaderboard_method_change", args=[method.pk]), {
        "name": "Alpha", "slug": "alpha", "description": "a" * 20_001, "owner": alice.pk, "is_public": "on"})
    assert response.status_code == 200 and "at most 20000 characters" in response.content.decode()
    assert Method.objects.get(pk=method.pk).description == ""


# Rendering

def test_the_description_is_rendered_when_saved_and_the_page_never_parses(client, alice):
    method = make_method("Alpha", owner=alice, description="Keeps *big* weights; see [the paper](https://example.org).")
    assert method.description_html == (
        '<p>Keeps <em>big</em> weights; see <a href="https://example.org" rel="nofollow noopener noreferrer">'
        'the paper</a>.</p>\n')
    with mock.patch.object(markdown.cmarkgfm, "markdown_to_html_with_extensions", side_effect=AssertionError), \
            mock.patch("markdown.markdown", side_effect=AssertionError):
        html = client.get("/m/alpha/").content.decode()
    assert "Keeps <em>big</em> weights" in html


def test_the_page_of_the_issues_description_is_the_stored_html(client, alice):
    make_method("Alpha", owner=alice, description="[" * 20_000)
    with mock.patch.object(markdown, "render", side_effect=AssertionError):
        response = client.get("/m/alpha/")
    assert response.status_code == 200 and "[" * 20_000 in response.content.decode()


def test_every_path_that_changes_a_description_renders_it(client, alice, benchmarks, strategy_upload):
    with mock.patch("submissions.tasks.run_evaluate.apply_async"):
        submission, _ = services.submission_create(user=alice, upload=strategy_upload(), name="Alpha",
                                                   description="*one*", benchmarks=[benchmarks["digits-mlp"]])
        method = submission.method
        assert method.description_html == "<p><em>one</em></p>\n"
        # a new version with a new description (a queryset update)
        services.submission_create(user=alice, upload=strategy_upload(b"# v2\n" + _strategy()), name="Alpha",
                                   description="*two*", benchmarks=[benchmarks["digits-mlp"]])
    method.refresh_from_db()
    assert method.description_html == "<p><em>two</em></p>\n"
    method_update(method=method, user=alice, data={"description": "*three*"})  # the edit form and the API
    assert Method.objects.get(pk=method.pk).description_html == "<p><em>three</em></p>\n"


def _strategy() -> bytes:
    from tests.django_fixtures import STRATEGY

    return STRATEGY


def test_pathological_descriptions_render_within_a_cpu_bound():
    """Every input above at once, in a process the kernel stops after 10 CPU seconds (one of
    them alone took python-markdown ~40): nothing is timed, the bound is enforced."""
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_CPU, (10, 10))\n"
              "sys.path.insert(0, 'benchmarks')\n"
              "from leaderboard.markdown import render\n"
              "from markdown_render import CASES as PATHOLOGICAL\n"
              "sizes = {k: len(render(v)) for k, v in PATHOLOGICAL.items()}\n"
              "print(max(sizes[k] / len(v) for k, v in PATHOLOGICAL.items()))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                                 "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-markdown-test"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout) <= markdown.MAX_GROWTH  # and what is stored stays in proportion


@pytest.mark.parametrize("name", ["quotes", "lists", "quoted lists"])
def test_deep_nesting_is_unwrapped_past_the_depth_bound(name):
    html = markdown.render(PATHOLOGICAL[name])
    assert html.count("<blockquote>") + html.count("<ul>") + html.count("<ol>") <= markdown.MAX_DEPTH


def test_descriptions_stay_sanitized():
    html = markdown.render('Hi <script>alert(1)</script> [bad](javascript:alert(2)) <b onclick="x()">b</b> '
                           '![pixel](https://tracker.example/p.gif)\n\n| a | b |\n|---|---|\n| 1 | 2 |')
    assert "<script" not in html and "javascript:" not in html and "onclick" not in html and "<img" not in html
    assert "<table>" in html and "<td>1</td>" in html


@pytest.mark.django_db(transaction=True)
def test_the_migration_renders_the_existing_descriptions():
    before, after = [("leaderboard", "0006_method_builtin_name")], [("leaderboard", "0007_method_description_html")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("leaderboard", "Method")
    old.objects.create(name="a", slug="a", description="*hi* <script>x</script>")
    old.objects.create(name="b", slug="b")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("leaderboard", "Method")
    assert dict(new.objects.values_list("slug", "description_html")) == {"a": "<p><em>hi</em> x</p>\n", "b": ""}
    MigrationExecutor(connection).migrate(leaves)
