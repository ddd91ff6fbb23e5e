"""Static files as production serves them: `collectstatic` with the site's own storage (hashed
names, gzip copies), then the pages link the hashed names and WhiteNoise serves plotly.js
compressed with a cache that never expires."""

import gzip
import re

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client

SITE_STORAGE = django_settings.STORAGES["staticfiles"]["BACKEND"]


@pytest.fixture
def collected(settings, tmp_path, benchmarks):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": SITE_STORAGE}}
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_site_storage_is_whitenoises_compressed_manifest():
    assert SITE_STORAGE == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_pages_link_hashed_names_and_plotly_is_served_gzipped_with_a_long_cache(collected):
    client = Client()
    page = client.get("/b/digits-mlp/").content.decode()
    [url] = re.findall(r'src="(/static/plotly/[^"]+)"', page)
    assert url != "/static/plotly/plotly.min.js" and url.endswith(".js")  # plotly.min.<hash>.js

    zipped = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert zipped.status_code == 200
    assert zipped["Content-Encoding"] == "gzip"
    assert "immutable" in zipped["Cache-Control"] and "max-age=315360000" in zipped["Cache-Control"]
    plain = client.get(url)  # a client that takes no compression gets the file itself
    assert "Content-Encoding" not in plain
    raw = _body(plain)
    body = _body(zipped)
    assert gzip.decompress(body) == raw and len(body) < 0.4 * len(raw)

    home = client.get("/").content.decode()
    assert "/static/css/site.css" not in home and re.search(r'href="/static/css/site\.[0-9a-f]{12}\.css"', home)


def test_pages_are_gzipped_for_browsers_that_accept_it(client, benchmarks):
    zipped = client.get("/b/digits-mlp/", HTTP_ACCEPT_ENCODING="gzip, br")
    plain = client.get("/b/digits-mlp/")
    assert zipped["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert gzip.decompress(zipped.content).decode().count("<tr") == plain.content.decode().count("<tr")
    assert len(zipped.content) < 0.5 * len(plain.content)
