"""The submissions app's tests: the Django fixtures every site test uses (named actors, benchmark rows, uploads;
tests/django_fixtures.py)."""

from tests.django_fixtures import *  # noqa: F401,F403
