"""Throttles on the places a password is checked, so that it cannot be guessed at speed.

- The site's log-in form (and the admin's): after PRUNEBOARD_LOGIN_FAILURES failed log-ins from
  one client address, or for one username from any address, within
  PRUNEBOARD_LOGIN_WINDOW_SECONDS of the first, the form refuses every log-in there, the right
  password included, with "too many failed log-ins ... try again in N minutes" (429 on the
  site's form) until the window ends. A small limit of our own rather than django-axes: it
  shares the cache and the client address with the API's throttle, adds no tables, and the
  admin's form takes it too.
- The API's token endpoint: DRF's ScopedRateThrottle (scope "token", per client address) and
  the same rate per username, PRUNEBOARD_TOKEN_RATE requests (right or wrong) per period; 429
  with Retry-After past it. A token is fetched once and kept, so the rate can be low.

The counts live in Django's cache (settings.CACHES): one shared by every web process, or each
process would count on its own. The client address is REMOTE_ADDR, or the address the
PRUNEBOARD_NUM_PROXIES-th proxy saw in X-Forwarded-For (a header any client can write, so it is
only read behind that many trusted proxies). Per username, anyone can lock an account's
log-ins for a window by failing on purpose: the price of slowing guesses spread over many
addresses."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle


def client_address(request) -> str:
    """The client's address as DRF's throttles see it (REST_FRAMEWORK["NUM_PROXIES"])."""
    return BaseThrottle().get_ident(request)


def _digest(text: str) -> str:
    """Cache keys from what a client sent: fixed length, no character a cache backend refuses."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _login_keys(request, username: str) -> list[str]:
    return [f"login-failures:address:{_digest(client_address(request))}",
            f"login-failures:username:{_digest(username.casefold())}"]


def login_attempt(request, username: str) -> int | None:
    """Count a log-in attempt before its password is checked (so that attempts sent at the same
    instant are counted too): returns None when it may go ahead, else the seconds until the
    window that refuses it ends (the attempt is then not counted). `login_succeeded` gives the
    attempt back when the password was right, so only failures add up."""
    now = time.time()
    limit, window = settings.PRUNEBOARD_LOGIN_FAILURES, settings.PRUNEBOARD_LOGIN_WINDOW_SECONDS
    keys = _login_keys(request, username)
    counts = cache.get_many(keys)
    waits = [ends - now for failures, ends in counts.values() if failures >= limit and ends > now]
    if waits:
        return max(1, math.ceil(max(waits)))
    for key in keys:
        failures, ends = counts.get(key, (0, now + window))
        if ends <= now:
            failures, ends = 0, now + window
        cache.set(key, (failures + 1, ends), timeout=math.ceil(ends - now))
    return None


def login_succeeded(request, username: str) -> None:
    now = time.time()
    for key, (failures, ends) in cache.get_many(_login_keys(request, username)).items():
        if ends > now:
            cache.set(key, (max(0, failures - 1), ends), timeout=math.ceil(ends - now))


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledLoginMixin:
    """For an AuthenticationForm: refuse a log-in, whatever its password, while its address or
    its username is over the limit. `retry_after` holds the seconds left when it was refused."""

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


class UsernameRateThrottle(ScopedRateThrottle):
    """The view's scoped rate, counted per username posted rather than per client address: a
    password tried from many addresses is throttled too."""

    def get_cache_key(self, request, view):
        username = request.data.get("username") if request.method == "POST" else None
        if not isinstance(username, str) or not username:
            return None
        return self.cache_format % {"scope": f"{self.scope}-username", "ident": _digest(username.casefold())}
