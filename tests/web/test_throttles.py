"""Passwords cannot be guessed at speed: the log-in forms (site and admin) refuse every log-in
from an address, or for a username, after PRUNEBOARD_LOGIN_FAILURES failures in a window, and
/api/token/ takes PRUNEBOARD_TOKEN_RATE requests per address and per username. alice is
guessed at; bob is someone else; the moderator is staff."""

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


def test_one_username_guessed_from_many_addresses_is_refused(alice, settings):
    for n in range(settings.PRUNEBOARD_LOGIN_FAILURES):
        fail(Client(REMOTE_ADDR=f"10.0.0.{n}"), 1)
    assert log_in(Client(REMOTE_ADDR="10.0.1.1")).status_code == 429


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
        assert token(password="wrong").status_code == 400
    response = token()
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()


def test_the_token_rate_is_per_username_across_addresses(alice, bob):
    for n in range(token_rate()):
        assert token(password="wrong", address=f"10.0.0.{n}").status_code == 400
    assert token(address="10.0.1.1").status_code == 429
    assert token("bob", "battery staple 42", address="10.0.1.1").status_code == 200


def test_the_token_rate_is_per_address_across_usernames(alice, bob):
    for n in range(token_rate()):
        assert token(f"user{n}", "wrong").status_code == 400
    assert token("bob", "battery staple 42").status_code == 429
    assert token("bob", "battery staple 42", address="10.0.0.9").status_code == 200


def test_revoking_a_token_is_not_throttled(alice):
    key = token().json()["token"]
    for _ in range(token_rate()):
        token(password="wrong")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/token/").status_code == 204


@pytest.mark.parametrize("rate", ["ten/hour", "10/fortnight", "0/hour"])
def test_a_malformed_token_rate_stops_the_process(rate):
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "pruneboard.settings",
                                 "PRUNEBOARD_TOKEN_RATE": rate,
                                 "PRUNEBOARD_VAR_DIR": "/tmp/pruneboard-settings-test"})
    assert result.returncode != 0 and f"PRUNEBOARD_TOKEN_RATE={rate!r} is not a rate" in result.stderr
