from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("b/<path:name>/", views.benchmark_detail, name="benchmark"),
    path("b/<path:name>.csv", views.benchmark_csv, name="benchmark-csv"),
    path("s/<int:pk>.csv", views.submission_csv, name="submission-csv"),
    path("r/<int:pk>.csv", views.run_csv, name="run-csv"),
    path("m/<slug:slug>/", views.method_detail, name="method"),
    path("m/<slug:slug>/code.py", views.method_code, name="method-code"),
]
