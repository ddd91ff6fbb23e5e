from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("submit/", views.submit, name="submit"),
    path("s/<int:pk>/", views.submission_detail, name="submission"),
    path("s/<int:pk>/progress.json", views.submission_progress, name="submission-progress"),
    path("s/<int:pk>/withdraw/", views.submission_withdraw, name="submission-withdraw"),
    path("accounts/", views.my_submissions, name="my-submissions"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
