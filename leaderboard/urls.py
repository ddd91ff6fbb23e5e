from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("overview/", views.overview, name="overview"),
    path("b/<path:name>/", views.benchmark_detail, name="benchmark"),
    path("b/<path:name>.csv", views.benchmark_csv, name="benchmark-csv"),
    path("s/<int:pk>.csv", views.submission_csv, name="submission-csv"),
    path("r/<int:pk>.csv", views.run_csv, name="run-csv"),
    path("r/<int:pk>/", views.run_detail, name="run"),
    path("r/<int:pk>/masks", views.run_masks, name="run-masks"),
    path("m/<slug:slug>/", views.method_detail, name="method"),
    path("m/<slug:slug>/v/<int:version>/", views.method_detail, name="method-version"),
    path("m/<slug:slug>/edit/", views.method_edit, name="method-edit"),
    path("m/<slug:slug>/enter/", views.method_enter, name="method-enter"),
    path("m/<slug:slug>/count/", views.method_count, name="method-count"),
    path("m/<slug:slug>/code.py", views.method_code, name="method-code"),
    path("m/<slug:slug>/v/<int:version>/code.py", views.method_code, name="method-version-code"),
]
