"""Accounts: sign up, log in, log out, and CSRF on the upload form."""

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse


def logged_in_username(client):
    return client.get(reverse("my-submissions")).context["user"].username


def test_signing_up_logs_the_user_in_and_leads_to_the_submit_page(client, benchmarks):
    response = client.post(reverse("signup"), {"username": "carol", "password1": "a long pass phrase 7",
                                               "password2": "a long pass phrase 7"})
    assert response.status_code == 302 and response.url == reverse("submit")
    assert get_user_model().objects.filter(username="carol").exists()
    assert client.get(reverse("submit")).status_code == 200


def test_signing_up_with_mismatched_passwords_shows_the_form_again(client, db):
    response = client.post(reverse("signup"), {"username": "carol", "password1": "a long pass phrase 7",
                                               "password2": "another pass phrase 7"})
    assert response.status_code == 200 and response.context["form"].errors
    assert not get_user_model().objects.filter(username="carol").exists()


def test_it_logs_in_and_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "correct horse 42"})
    assert response.status_code == 302
    assert logged_in_username(client) == "alice"
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("my-submissions")).status_code == 302


def test_it_refuses_a_wrong_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200 and response.context["form"].errors


def test_logout_by_get_is_not_allowed(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405
    assert logged_in_username(client) == "alice"


def test_the_login_and_signup_pages_render(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("signup")).status_code == 200


def test_a_post_to_submit_without_a_csrf_token_is_refused(alice, benchmarks, strategy_upload):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("submit"), {"file": strategy_upload(), "name": "x",
                                               "benchmarks": [benchmarks["digits-mlp"].pk]})
    assert response.status_code == 403


def test_logging_in_from_the_submit_page_leads_back_to_it(client, alice):
    login_url = client.get(reverse("submit")).url
    response = client.post(login_url, {"username": "alice", "password": "correct horse 42",
                                       "next": reverse("submit")})
    assert response.url == reverse("submit")
