"""Passwords cannot be guessed at speed, and nobody can lock another person out: the log-in
forms (site and admin) and /api/token/ refuse every log-in from an address after
PRUNEBOARD_LOGIN_FAILURES failures in a window; a username failed that often from anywhere is
refused only from the addresses that failed for it, never from a new one or one its owner
logged in from; every spelling of a username that authentication accepts counts as one;
/api/token/ takes PRUNEBOARD_TOKEN_RATE requests per address; sign-up makes
PRUNEBOARD_SIGNUP_RATE accounts per address. alice is guessed at; bob is someone else; the
moderator is staff."""

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from pruneboard import throttles

ALICE = "correct horse 42"
LOGIN = reverse("login")


def log_in(client, username="alice", password=ALICE, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail(client, times, username="alice", **extra):
    for _ in range(times):
        response = log_in(client, username, "wrong", **extra)
        assert response.status_code == 200 and response.context["form"].errors


def test_a_right_password_after_a_few_wrong_ones_logs_in(client, alice, settings):
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES - 1)
    assert log_in(client).status_code == 302


def test_after_the_failures_allowed_even_the_right_password_is_429(client, alice, settings):
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES)
    response = log_in(client)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.PRUNEBOARD_LOGIN_WINDOW_SECONDS
    assert response.context["form"].non_field_errors() == [
        "Too many failed log-ins from your address or for this account. Try again in 15 minutes."]
    assert "Try again in 15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_refusal_lasts_the_window_then_logging_in_works_again(client, alice, settings, monkeypatch):
    settings.PRUNEBOARD_LOGIN_WINDOW_SECONDS = 60
    now = [1_000_000.0]
    monkeypatch.setattr(throttles.time, "time", lambda: now[0])
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES)
    now[0] += 59
    response = log_in(client)
    assert response.status_code == 429 and response["Retry-After"] == "1"
    assert "Try again in 1 second." in response.content.decode()
    now[0] += 1
    cache.clear()  # what the window's expiry does to the entries in a real cache
    assert log_in(client).status_code == 302


def test_the_window_is_counted_from_the_first_failure(client, alice, settings, monkeypatch):
    settings.PRUNEBOARD_LOGIN_WINDOW_SECONDS = 60
    now = [1_000_000.0]
    monkeypatch.setattr(throttles.time, "time", lambda: now[0])
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES - 1)
    now[0] += 61  # that window is over: its failures no longer count
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES - 1)
    assert log_in(client).status_code == 302


def test_a_right_password_does_not_count_as_a_failure(client, alice, settings):
    for _ in range(settings.PRUNEBOARD_LOGIN_FAILURES + 2):
        assert log_in(client).status_code == 302
        client.logout()
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES - 1)
    assert log_in(client).status_code == 302


def test_one_address_guessing_many_usernames_is_refused(client, alice, bob, settings):
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        fail(client, 1, username=f"user{n}")
    assert log_in(client, "bob", "battery staple 42").status_code == 429


def guess_from_many_addresses(settings, variants=("alice",)):
    """One failure from each of PRUNEBOARD_LOGIN_FAILURES addresses, 10.0.0.0, 10.0.0.1, ...,
    cycling through the spellings given: alice is now under attack."""
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        fail(Client(REMOTE_ADDR=f"10.0.0.{n}"), 1, username=variants[n % len(variants)])


def test_a_username_guessed_from_many_addresses_is_refused_at_each_of_them(alice, settings):
    guess_from_many_addresses(settings)
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        response = log_in(Client(REMOTE_ADDR=f"10.0.0.{n}"))
        assert response.status_code == 429 and "Try again in" in response.content.decode()


def test_its_owner_still_logs_in_from_a_new_address_while_the_guessers_are_refused(alice, settings):
    guess_from_many_addresses(settings)
    fail(Client(REMOTE_ADDR="10.0.0.200"), 1)  # a new guesser gets one guess
    assert log_in(Client(REMOTE_ADDR="10.0.0.200")).status_code == 429
    owner = Client(REMOTE_ADDR="10.0.1.1")
    assert log_in(owner).status_code == 302 and owner.session["_auth_user_id"] == str(alice.pk)


def test_an_address_the_owner_logged_in_from_before_forgives_a_slip_during_an_attack(alice, settings):
    home, cafe = Client(REMOTE_ADDR="10.0.2.1"), Client(REMOTE_ADDR="10.0.2.2")
    assert log_in(home).status_code == 302
    home.logout()
    guess_from_many_addresses(settings)
    fail(home, 1)
    assert log_in(home).status_code == 302
    fail(cafe, 1)  # a new address that fails while alice is under attack waits like the guessers
    assert log_in(cafe).status_code == 429


def test_spellings_of_a_username_count_as_one_on_the_log_in_form(alice, settings):
    guess_from_many_addresses(settings, variants=("alice", " alice", "ALICE ", "\talice", "Alice"))
    assert log_in(Client(REMOTE_ADDR="10.0.0.0"), "   alice").status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.0.1"), "alice ").status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.1.1"), " alice").status_code == 302  # the owner, elsewhere


def test_a_guesser_at_one_address_is_refused_and_the_owner_elsewhere_is_not(alice, settings):
    guesser = Client(REMOTE_ADDR="10.0.0.1")
    fail(guesser, settings.PRUNEBOARD_LOGIN_FAILURES)
    assert log_in(guesser).status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.0.1.1")).status_code == 302


def test_others_log_in_as_usual_meanwhile(client, alice, bob, settings):
    fail(client, settings.PRUNEBOARD_LOGIN_FAILURES, REMOTE_ADDR="10.0.0.1")
    assert log_in(Client(REMOTE_ADDR="10.0.0.2"), "bob", "battery staple 42").status_code == 302


def test_a_forged_x_forwarded_for_does_not_give_a_new_address(client, alice, settings):
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        fail(client, 1, username=f"user{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert log_in(client, "nobody", "x", HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_clients(alice, monkeypatch):
    from rest_framework.settings import api_settings

    monkeypatch.setattr(api_settings, "NUM_PROXIES", 1)
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for n in range(django_settings.PRUNEBOARD_LOGIN_FAILURES):
        fail(proxy, 1, username=f"user{n}", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert log_in(proxy, "x", "y", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert log_in(proxy, HTTP_X_FORWARDED_FOR="forged, 198.51.100.8").status_code == 302


def test_the_admin_log_in_is_throttled_too(client, moderator, settings):
    url = reverse("admin:login")
    for _ in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        client.post(url, {"username": "mod", "password": "wrong"})
    response = client.post(url, {"username": "mod", "password": "moderate 42 now"})
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


# The API's token endpoint (DRF's throttling)

def token(username="alice", password=ALICE, address="127.0.0.1"):
    return APIClient(REMOTE_ADDR=address).post("/api/token/", {"username": username,
                                                               "password": password})


def token_rate() -> int:
    return int(django_settings.PRUNEBOARD_TOKEN_RATE.split("/")[0])


def test_after_the_token_rate_even_the_right_password_is_429(alice):
    for _ in range(token_rate()):
        assert token().status_code == 200
    response = token()
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()
    assert token(address="10.0.0.9").status_code == 200  # per address


def test_an_address_that_failed_too_often_gets_no_token(alice, bob, settings):
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        assert token(f"user{n}", "wrong").status_code == 400
    response = token("bob", "battery staple 42")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert token("bob", "battery staple 42", address="10.0.0.9").status_code == 200


@pytest.mark.parametrize("spelling", ["   bob", " bob", "bob ", "BOB", "\tbob\n"])
def test_spellings_of_a_username_are_throttled_as_one_on_the_token_endpoint(bob, settings, spelling):
    variants = ["bob", " bob", "bob ", "Bob", "\tbob"]
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        assert token(variants[n % len(variants)], "wrong", address=f"10.0.0.{n}").status_code == 400
    response = token(spelling, "battery staple 42", address="10.0.0.0")
    assert response.status_code == 429 and "token" not in response.json()


def test_the_owner_gets_a_token_from_a_new_address_while_the_guessers_are_refused(bob, settings):
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        token("bob", "wrong", address=f"10.0.0.{n}")
    assert token("bob", "battery staple 42", address="10.0.0.1").status_code == 429
    assert "token" in token("   bob", "battery staple 42", address="10.0.1.1").json()


def test_the_log_in_form_and_the_token_endpoint_count_failures_together(client, alice, settings):
    for _ in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        assert token(password="wrong").status_code == 400
    assert log_in(client).status_code == 429


def test_revoking_a_token_is_not_throttled(alice):
    key = token().json()["token"]
    for _ in range(token_rate()):
        token(password="wrong")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/token/").status_code == 204


@pytest.mark.parametrize("name", ["PRUNEBOARD_TOKEN_RATE", "PRUNEBOARD_SIGNUP_RATE"])
@pytest.mark.parametrize("rate", ["ten/hour", "10/fortnight", "0/hour"])
def test_a_malformed_rate_stops_the_process(name, rate):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                                 name: rate,
                                 "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-settings-test"})
    assert result.returncode != 0 and f"{name}={rate!r} is not a rate" in result.stderr


# Sign-up (per client address)

def sign_up(username, address="127.0.0.1", password="a long pass phrase 7", again=None):
    return Client(REMOTE_ADDR=address).post(reverse("signup"), {
        "username": username, "password1": password, "password2": again or password})


def test_sign_up_makes_at_most_the_rate_of_accounts_per_address(db, django_user_model, settings):
    settings.PRUNEBOARD_SIGNUP_RATE = "3/hour"
    for n in range(3):
        assert sign_up(f"carol{n}").status_code == 302
    response = sign_up("carol3")
    assert response.status_code == 429 and 3000 < int(response["Retry-After"]) <= 3600
    assert response.context["form"].non_field_errors() == [
        "Too many accounts were made from your address. Try again in 60 minutes."]
    assert not django_user_model.objects.filter(username="carol3").exists()
    assert sign_up("carol3", address="10.0.0.9").status_code == 302  # another address


def test_the_default_rate_refuses_a_burst_of_accounts_from_one_address(db, django_user_model):
    codes = [sign_up(f"sock{n}").status_code for n in range(8)]
    assert codes == [302] * 5 + [429] * 3
    assert django_user_model.objects.count() == 5


def test_a_sign_up_form_with_errors_is_not_counted(db, settings):
    settings.PRUNEBOARD_SIGNUP_RATE = "2/hour"
    for n in range(4):
        assert sign_up(f"carol{n}", again="another pass phrase 7").status_code == 200
    assert [sign_up(f"carol{n}").status_code for n in range(3)] == [302, 302, 429]
