"""Account pages: sign-up (throttled per client address) and the user's API token. They belong to
the project, beside the log-in throttles and the API's tokens (pruneboard.throttles,
pruneboard.tokens), so that no app imports the project package."""

import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .throttles import SignupThrottle, wait_in_words
from .tokens import token_of, token_renew


def signup(request):
    """PRUNEBOARD_SIGNUP_RATE accounts per client address (pruneboard.throttles): past it the
    form again, 429, with when to try again. Only a form that makes an account is counted."""
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        throttle = SignupThrottle()
        if throttle.allow_request(request, None):
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("submit")
        wait = max(1, math.ceil(throttle.wait() or 1))
        form.add_error(None, f"Too many accounts were made from your address. Try again in "
                             f"{wait_in_words(wait)}.")
        response = render(request, "registration/signup.html", {"form": form}, status=429)
        response["Retry-After"] = str(wait)
        return response
    return render(request, "registration/signup.html", {"form": form})


@login_required
@never_cache
def api_token(request):
    """The user's API token; POST renews it (the old one stops working)."""
    if request.method == "POST":
        token_renew(user=request.user)
        messages.success(request, "Your API token is renewed: the old one no longer works.")
        return redirect("api-token")
    return render(request, "submissions/api_token.html", {"token": token_of(user=request.user)})
