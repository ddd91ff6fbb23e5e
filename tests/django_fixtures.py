"""Named actors and the benchmark rows every site test starts from (tests/leaderboard/,
tests/submissions/, tests/api/: each package's conftest.py imports these fixtures).

alice owns submissions, bob does not, the moderator is staff. Benchmarks are synced from the
evaluator's registry, as `manage.py sync_benchmarks` does."""

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.services import benchmarks_sync

STRATEGY = b'''"""Keeps the largest weights of each layer."""
import numpy as np
from evaluator.pruning import LayerPruning, VisionPruning, fraction_mask


class LayerMagnitude(LayerPruning, VisionPruning):
    def layer_masks(self, module):
        w = self.module_params(module)["weight"]
        return {"weight": fraction_mask(np.abs(w), self.fraction)}
'''


@pytest.fixture(autouse=True)
def site(settings, tmp_path):
    """Uploads go to the test's own folder; a cheap password hash (PBKDF2 costs 0.2 s a user);
    the log-in throttles count in this process's memory, from zero in each test (so that tests
    that log in often never meet them, and two test runs at once never share them)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Pages link static files by name, not through the manifest `collectstatic` writes (the
    # site's storage needs that run first; tests/api/test_static.py runs it and checks it).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "pruneboard-tests"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def benchmarks(db, live_worker):
    return {b.name: b for b in benchmarks_sync()}


@pytest.fixture
def live_worker(db):
    """A worker that has just reported it can run every benchmark (as a worker with the weights
    and data of each would), so that the tests can submit to any of them
    (submissions.capabilities); tests of the availability itself write their own reports."""
    from evaluator.benchmarks import list_benchmarks
    from submissions.capabilities import worker_heartbeat

    return worker_heartbeat(
        hostname="tests@localhost", queues=["cpu", "gpu"], device="cpu",
        capabilities={b.name: {"weights": "", "data": "", "weights_sha256": b.weights_sha256 or ""}
                      for b in list_benchmarks()})


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "correct horse 42")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "battery staple 42")


@pytest.fixture
def moderator(django_user_model):
    return django_user_model.objects.create_superuser("mod", "mod@example.org", "moderate 42 now")


@pytest.fixture
def strategy_upload():
    def make(content=STRATEGY, name="layer_magnitude.py"):
        return SimpleUploadedFile(name, content, content_type="text/x-python")
    return make
