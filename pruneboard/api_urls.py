"""/api/ routes (docs/api.md)."""

from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path("benchmarks/", api.BenchmarkList.as_view(), name="benchmarks"),
    path("benchmarks/<path:name>/ranking/", api.BenchmarkRanking.as_view(), name="benchmark-ranking"),
    path("benchmarks/<path:name>/", api.BenchmarkDetail.as_view(), name="benchmark"),
    path("overview/", api.Overview.as_view(), name="overview"),
    path("methods/", api.MethodList.as_view(), name="methods"),
    path("methods/<slug:slug>/", api.MethodDetail.as_view(), name="method"),
    path("methods/<slug:slug>/benchmarks/", api.MethodEnter.as_view(), name="method-enter"),
    path("runs/", api.RunList.as_view(), name="runs"),
    path("runs/<int:pk>/", api.RunDetail.as_view(), name="run"),
    path("runs/<int:pk>/rerun/", api.RunRerun.as_view(), name="run-rerun"),
    path("submissions/", api.SubmissionCreate.as_view(), name="submissions"),
    path("submissions/<int:pk>/", api.SubmissionDetail.as_view(), name="submission"),
    path("token/", api.TokenView.as_view(), name="token"),
]
