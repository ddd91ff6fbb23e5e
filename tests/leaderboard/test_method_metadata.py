"""A method's paper, BibTeX and tags, edited by its owner only; search and tag filters on the
home page, the boards and the API, with hostile input. alice owns the method, bob does not."""

import pytest
from rest_framework.test import APIClient

from leaderboard.metadata import validate_bibtex
from leaderboard.models import Method

from tests.factories import make_entry, make_method
from tests.api.test_api import as_user

FULL = [1, 2, 4, 8, 16, 32, 64]
BIBTEX = "@inproceedings{lee2019snip,\n  title={SNIP: Single-shot Network Pruning},\n  author={Lee, Namhoon},\n  year={2019}\n}"
EDIT = {"title": "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
        "authors": "Lee, Ajanthan, Torr", "venue": "ICLR", "year": "2019", "bibtex": BIBTEX,
        "paper_url": "https://arxiv.org/abs/1810.02340", "code_url": "", "description": "",
        "granularity": "unstructured", "data_use": "data-driven", "schedule": "one-shot",
        "keywords": "Saliency,  connection sensitivity, saliency", "is_public": "on"}




@pytest.fixture
def mine(alice, db):
    return make_method("Mine", owner=alice)


def test_the_owner_edits_the_paper_and_tags_and_the_page_shows_them(client, alice, mine):
    client.force_login(alice)
    response = client.post("/m/mine/edit/", EDIT, follow=True)
    assert response.redirect_chain[-1][0] == "/m/mine/"
    mine.refresh_from_db()
    assert (mine.venue, mine.year, mine.tags) == ("ICLR", 2019, ["unstructured", "data-driven", "one-shot"])
    assert mine.keyword_list == ["saliency", "connection sensitivity"]
    html = response.content.decode()
    assert "SNIP: Single-shot Network Pruning based on Connection Sensitivity" in html and "ICLR 2019" in html
    assert 'id="copy-bibtex"' in html and "@inproceedings{lee2019snip," in html
    assert 'href="/?tag=one-shot"' in html and 'href="/?keyword=connection%20sensitivity"' in html


def test_only_the_owner_may_edit(client, alice, bob, moderator, mine):
    assert client.get("/m/mine/edit/").status_code == 302  # to the login page
    client.force_login(bob)
    assert client.get("/m/mine/edit/").status_code == 403
    assert client.post("/m/mine/edit/", EDIT).status_code == 403
    assert "Edit the paper" not in client.get("/m/mine/").content.decode()
    private = make_method("Hidden", owner=alice, is_public=False)
    assert client.get(f"/m/{private.slug}/edit/").status_code == 404
    client.force_login(moderator)
    assert client.post("/m/mine/edit/", EDIT).status_code == 403
    mine.refresh_from_db()
    assert mine.title == ""
    assert as_user(bob).patch("/api/methods/mine/", {"title": "taken"}, format="json").status_code == 403
    assert APIClient().patch("/api/methods/mine/", {"title": "taken"}, format="json").status_code == 401


def test_bibtex_with_markup_is_kept_as_text_and_shown_escaped(client, alice, mine):
    client.force_login(alice)
    hostile = '@misc{x, title={<script>alert(1)</script><img src=x onerror=alert(2)>}}'
    client.post("/m/mine/edit/", {**EDIT, "bibtex": hostile, "title": "<b>bold</b>"})
    html = client.get("/m/mine/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html


def test_a_1_mb_bibtex_is_refused_by_its_size(client, alice, mine):
    client.force_login(alice)
    huge = "@misc{x, title={" + "a" * (1024 * 1024) + "}}"
    response = client.post("/m/mine/edit/", {**EDIT, "bibtex": huge})
    assert response.status_code == 200
    assert "the BibTeX is 1024 KB (1048594 characters); the limit is 20000 characters" in response.content.decode()
    api = as_user(alice).patch("/api/methods/mine/", {"bibtex": huge}, format="json")
    assert api.status_code == 400 and api.json()["bibtex"][0].startswith("the BibTeX is 1024 KB")
    mine.refresh_from_db()
    assert mine.bibtex == ""


@pytest.mark.parametrize("text, message", [
    ("@article{a, title={X, year=2020}", "could not be parsed (Unexpectedly reached end of file.)"),
    ("just a title", "text outside an entry: 'just a title'"),
    ("@article{a, title={X}}\n@book{b, title={Y}}", "expected one @entry{key, ...}, found 2"),
])
def test_text_that_is_not_one_bibtex_entry_is_refused_saying_why(text, message):
    with pytest.raises(Exception, match="not valid BibTeX") as refused:
        validate_bibtex(text)
    assert message in refused.value.messages[0]


def test_a_tag_outside_the_vocabulary_is_refused_naming_the_vocabulary(client, alice, mine):
    client.force_login(alice)
    response = client.post("/m/mine/edit/", {**EDIT, "granularity": "semi-structured"})
    html = response.content.decode()
    assert "semi-structured is not a granularity tag; the tags are granularity: unstructured, structured; " \
           "data use: data-free, data-driven; schedule: one-shot, iterative" in html
    api = as_user(alice).patch("/api/methods/mine/", {"tags": ["one-shot", "sparse-ish"]}, format="json")
    assert api.status_code == 400
    assert api.json()["tags"][0].startswith("unknown tag 'sparse-ish'; the tags are granularity: unstructured")
    both = as_user(alice).patch("/api/methods/mine/", {"tags": ["one-shot", "iterative"]}, format="json")
    assert both.json()["tags"] == ["'one-shot' and 'iterative' are both schedule tags; choose one"]
    mine.refresh_from_db()
    assert mine.tags == []


def test_the_api_edits_the_paper_and_tags(alice, mine):
    response = as_user(alice).patch("/api/methods/mine/", {"tags": ["structured", "data-free"], "year": 2020,
                                                           "keywords": ["Channels", "L1"], "bibtex": BIBTEX,
                                                           "public": False}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["tags"], body["keywords"], body["year"]) == (["structured", "data-free"], ["channels", "l1"], 2020)
    mine.refresh_from_db()
    assert not mine.is_public and mine.bibtex == BIBTEX


# Search

@pytest.fixture
def catalogue(alice, benchmarks):
    bench = benchmarks["digits-mlp"]
    snip = make_entry("SNIP", bench, {c: [0.8] for c in FULL}, owner=alice, title="Single-shot pruning",
                      authors="Lee, Ajanthan, Torr", granularity="unstructured", data_use="data-driven",
                      schedule="one-shot", keywords="saliency, connection sensitivity")
    chan = make_entry("Channel L1", bench, {c: [0.7] for c in FULL}, owner=alice, authors="Li, Kadav",
                      granularity="structured", data_use="data-free", keywords="filters")
    odd = make_entry("100% [pruned]_x", bench, {c: [0.6] for c in FULL}, owner=alice, slug="odd")
    return {"snip": snip, "chan": chan, "odd": odd}


def found(client, query):
    return [m.name for m in client.get("/?" + query).context["found"]]


@pytest.mark.parametrize("query, names", [
    ("q=snip", ["SNIP"]),
    ("q=single-SHOT", ["SNIP"]),
    ("author=kadav", ["Channel L1"]),
    ("tag=structured", ["Channel L1"]),
    ("tag=unstructured&tag=one-shot", ["SNIP"]),
    ("tag=data-free&tag=data-driven", []),
    ("keyword=saliency", ["SNIP"]),
    ("keyword=salien", []),  # a keyword matches whole
    ("keyword=Connection%20%20Sensitivity", ["SNIP"]),
    ("q=%25", ["100% [pruned]_x"]),  # LIKE wildcards match themselves only
    ("q=_", ["100% [pruned]_x"]),
    ("q=%5Bpruned%5D", ["100% [pruned]_x"]),
    ("q=.%2A", []),  # no pattern syntax
    ("q=%27%20OR%201%3D1%20--", []),
    ("q=%5C", []),
])
def test_the_home_page_search_finds_methods_by_name_title_author_tag_and_keyword(client, catalogue, query, names):
    assert found(client, query) == names


def test_an_unknown_tag_in_the_search_is_named_with_the_vocabulary(client, catalogue):
    response = client.get("/?tag=sparse&q=snip")
    assert response.status_code == 200
    assert "unknown tag &#x27;sparse&#x27;; the tags are granularity:" in response.content.decode()
    assert [m.name for m in response.context["found"]] == ["SNIP"]
    assert APIClient().get("/api/methods/?tag=sparse").status_code == 400


def test_the_board_filters_its_ranking_and_keeps_the_whole_boards_ranks(client, catalogue):
    response = client.get("/b/digits-mlp/?tag=structured")
    rows = response.context["ranking"]
    assert [(r.method, r.rank) for r in rows] == [("Channel L1", 2)]
    assert "1 of 3 methods match" in response.content.decode()
    assert [r.method for r in client.get("/b/digits-mlp/?q=%25&by=speedup").context["ranking"]] == ["100% [pruned]_x"]


def test_the_search_never_shows_another_users_private_method(client, bob, catalogue):
    Method.objects.filter(pk=catalogue["snip"].pk).update(is_public=False)
    assert found(client, "q=snip") == []
    client.force_login(bob)
    assert found(client, "q=snip") == []
    assert [r.method for r in client.get("/b/digits-mlp/?q=snip").context["ranking"]] == []


def test_the_api_searches_methods(client, catalogue):
    body = client.get("/api/methods/?tag=one-shot&author=torr").json()
    assert [(m["name"], m["tags"], m["keywords"]) for m in body["results"]] == [
        ("SNIP", ["unstructured", "data-driven", "one-shot"], ["saliency", "connection sensitivity"])]


PASTED = """@article{doe2020sparse,
  title = {Sparse {Nets} That Work},
  author = {Doe, Jane and Roe, Richard},
  journal = {Journal of Machine Learning Research},
  year = {2020},
  doi = {10.5555/12345}
}"""


def test_pasted_bibtex_fills_the_paper_fields_left_empty(client, alice, mine):
    client.force_login(alice)
    edit = {**EDIT, "title": "", "authors": "", "venue": "", "year": "", "paper_url": "", "bibtex": PASTED}
    assert client.post("/m/mine/edit/", edit).status_code == 302
    mine.refresh_from_db()
    assert (mine.title, mine.authors, mine.venue, mine.year, mine.paper_url) == (
        "Sparse Nets That Work", "Jane Doe, Richard Roe", "Journal of Machine Learning Research", 2020,
        "https://doi.org/10.5555/12345")
    # what the user typed wins over the BibTeX
    assert client.post("/m/mine/edit/", {**edit, "venue": "JMLR", "title": "My title"}).status_code == 302
    mine.refresh_from_db()
    assert (mine.title, mine.venue, mine.year) == ("My title", "JMLR", 2020)


def test_the_api_fills_the_empty_paper_fields_from_pasted_bibtex(alice, mine):
    Method.objects.filter(pk=mine.pk).update(title="Kept")
    response = as_user(alice).patch("/api/methods/mine/", {"bibtex": PASTED}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["authors"], body["venue"], body["year"]) == (
        "Kept", "Jane Doe, Richard Roe", "Journal of Machine Learning Research", 2020)
