from django.contrib import admin
from django.urls import include, path

from . import accounts
from .health import healthz
from .throttles import ThrottledAdminAuthenticationForm, ThrottledLoginView

# Log-ins are throttled (pruneboard.throttles), the admin's too.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("pruneboard.api_urls")),
    # Before submissions.urls, whose plain LoginView at the same address this one replaces.
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/token/", accounts.api_token, name="api-token"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("", include("submissions.urls")),
    path("", include("leaderboard.urls")),
]
