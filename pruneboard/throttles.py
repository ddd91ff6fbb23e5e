"""Throttles on the places a password is checked, so that it cannot be guessed at speed, and on
sign-up, so that per-user limits do not multiply with throwaway accounts.

Log-ins (the site's form, the admin's, and POST /api/token/ share one count):
- A username is counted as authentication sees it: surrounding whitespace stripped (Django's
  form and DRF's serializer both strip), NFKC-normalized (the form does; Django stores usernames
  so) and case-folded, so " bob", "bob " and "BOB" are one count (`login_username`).
- Per client address: PRUNEBOARD_LOGIN_FAILURES failed log-ins within
  PRUNEBOARD_LOGIN_WINDOW_SECONDS of the first refuse every log-in from that address, the right
  password included, until the window ends ("too many failed log-ins ... try again in N
  minutes"; 429 on the site's form and the API). That address is the guesser's own.
- Per username, no address is ever refused for what other addresses did. Failures for a
  username are counted from every address; once they reach PRUNEBOARD_LOGIN_FAILURES within a
  window the username is *under attack*, and until its window ends an attempt for it is refused
  from any address that has itself failed for that username in that window, unless that
  address has logged in as the username successfully in the last KNOWN_ADDRESS_SECONDS.
  An address that has not failed for it (the owner at a new café) and an address the owner
  logged in from before (home) still log in; a guesser spread over many addresses gets one
  guess per address per window instead of PRUNEBOARD_LOGIN_FAILURES, and its addresses meet
  the per-address limit too. The price: while a username is under attack, its owner who
  mistypes once from a new address waits for the window like the guessers.
- The token endpoint also takes at most PRUNEBOARD_TOKEN_RATE requests per client address,
  right or wrong (DRF's ScopedRateThrottle; 429 with Retry-After). A token is fetched once and
  kept, so the rate can be low.
Sign-up: at most PRUNEBOARD_SIGNUP_RATE accounts made per client address (the form again, 429
with Retry-After and "try again in N minutes"); a refused or invalid form makes no account and
is not counted.

A small implementation of our own rather than django-axes: it shares the cache and the client
address with DRF's throttles, adds no tables, and the admin's form takes it too. The counts live
in Django's cache (settings.CACHES): one shared by every web process, or each process would
count on its own. The client address is REMOTE_ADDR, or the address the PRUNEBOARD_NUM_PROXIES-th
proxy saw in X-Forwarded-For (a header any client can write, so it is only read behind that
many trusted proxies). Clients that share an address (one NAT) share its per-address limits."""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

# How long a successful log-in from an address exempts that address from its username's
# under-attack refusal (never from the per-address limit).
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600


def client_address(request) -> str:
    """The client's address as DRF's throttles see it (REST_FRAMEWORK["NUM_PROXIES"])."""
    return BaseThrottle().get_ident(request)


def _digest(text: str) -> str:
    """Cache keys from what a client sent: fixed length, no character a cache backend refuses."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def login_username(username) -> str:
    """The one spelling every variant of a username that could authenticate as the same account
    is counted under: stripped (as Django's UsernameField and DRF's CharField strip), NFKC (as
    Django normalizes usernames), stripped again (NFKC can make a leading space) and case-folded
    (a case-insensitive database collation or backend would accept "BOB" for "bob")."""
    return unicodedata.normalize("NFKC", str(username).strip()).strip().casefold()


class _Keys:
    def __init__(self, request, username: str):
        user, address = _digest(login_username(username)), _digest(client_address(request))
        self.address = f"login-failures:address:{address}"
        self.pair = f"login-failures:pair:{user}:{address}"
        self.username = f"login-failures:username:{user}"
        self.known = f"login-known:{user}:{address}"
        self.counted = [self.address, self.pair, self.username]


def login_attempt(request, username: str) -> int | None:
    """Count a log-in attempt before its password is checked (so that attempts sent at the same
    instant are counted too): returns None when it may go ahead, else the seconds until the
    window that refuses it ends (the attempt is then not counted). `login_succeeded` gives the
    attempt back when the password was right, so only failures add up."""
    now = time.time()
    limit, window = settings.PRUNEBOARD_LOGIN_FAILURES, settings.PRUNEBOARD_LOGIN_WINDOW_SECONDS
    keys = _Keys(request, username)
    stored = cache.get_many([*keys.counted, keys.known])

    def current(key) -> tuple[int, float]:
        failures, ends = stored.get(key, (0, 0.0))
        return (failures, ends) if ends > now else (0, 0.0)

    waits = [ends - now for failures, ends in map(current, (keys.address, keys.pair)) if failures >= limit]
    attacked, attack_ends = current(keys.username)
    if attacked >= limit and current(keys.pair)[0] > 0 and not stored.get(keys.known):
        waits.append(attack_ends - now)
    if waits:
        return max(1, math.ceil(max(waits)))
    for key in keys.counted:
        failures, ends = current(key)
        ends = ends or now + window
        cache.set(key, (failures + 1, ends), timeout=math.ceil(ends - now))
    return None


def login_succeeded(request, username: str) -> None:
    """Give the attempt back, and remember the address as one the username logs in from."""
    now = time.time()
    keys = _Keys(request, username)
    for key, (failures, ends) in cache.get_many(keys.counted).items():
        if ends > now:
            cache.set(key, (max(0, failures - 1), ends), timeout=math.ceil(ends - now))
    cache.set(keys.known, True, timeout=KNOWN_ADDRESS_SECONDS)


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledLoginMixin:
    """For an AuthenticationForm: refuse a log-in, whatever its password, while `login_attempt`
    refuses it (its address over the limit, or its username under attack from this address).
    `retry_after` holds the seconds left when it was refused."""

    retry_after: int | None = None

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # a missing field: nothing was checked
        self.retry_after = login_attempt(self.request, username)
        if self.retry_after is not None:
            raise ValidationError(
                f"Too many failed log-ins from your address or for this account. Try again in "
                f"{wait_in_words(self.retry_after)}.", code="throttled")
        cleaned = super().clean()  # a wrong password raises here, and stays counted
        login_succeeded(self.request, username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledLoginView(LoginView):
    """The site's log-in page: a refused log-in is the form again, with its message, as 429."""

    authentication_form = ThrottledAuthenticationForm
    template_name = "registration/login.html"

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


class LoginThrottle(BaseThrottle):
    """The log-in forms' failure counts on POST /api/token/, keyed on the username exactly as
    AuthTokenSerializer reads it (its own field's validation: a number becomes a string,
    whitespace is stripped). The view calls `login_succeeded` when the password was right."""

    def __init__(self):
        self.retry_after: int | None = None

    def allow_request(self, request, view):
        from rest_framework.authtoken.serializers import AuthTokenSerializer
        from rest_framework.exceptions import ValidationError as DRFValidationError

        fields = AuthTokenSerializer().fields
        try:
            username = fields["username"].run_validation(fields["username"].get_value(request.data))
            fields["password"].run_validation(fields["password"].get_value(request.data))
        except DRFValidationError:
            return True  # nothing is checked: the serializer refuses the request
        request.login_username = username
        self.retry_after = login_attempt(request, username)
        return self.retry_after is None

    def wait(self):
        return self.retry_after


class SignupThrottle(SimpleRateThrottle):
    """PRUNEBOARD_SIGNUP_RATE accounts per client address (`allow_request(request, None)` counts
    one when it allows it: call it only for a form that is about to make the account)."""

    scope = "signup"

    def get_rate(self):
        return settings.PRUNEBOARD_SIGNUP_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": _digest(self.get_ident(request))}
