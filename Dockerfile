# One image for web, workers and beat, built FROM Debian's own packages (Python 3.11, bubblewrap):
# no image registry is needed. Build with host networking (pip reaches PyPI):
#   docker build --network host -t pruneboard .        (docker-compose.yml does the same)
# Single stage on purpose: nothing is compiled (every requirement is a wheel), so a build stage
# would only copy the 6 GB virtualenv once more. No compiler, apt list or pip cache stays in it.
FROM debian:bookworm-slim

# deploy/ca/*.crt: a site's own certificate authorities (a proxy on the way to PyPI), if any.
COPY deploy/ca/ /usr/local/share/ca-certificates/pruneboard/
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv bubblewrap ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/local/share/ca-certificates/pruneboard/README.md \
 && update-ca-certificates >/dev/null \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin pruneboard

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q -r /tmp/requirements.txt \
 && rm -rf /tmp/requirements.txt /root/.cache

WORKDIR /app
COPY . /app
# The embedded benchmarks' weights ship in the image (/app/weights); a host's own read-only
# folder can replace them (PRUNEBOARD_WEIGHTS_DIR). Static files under hashed names with gzip
# copies, served by WhiteNoise. The app's files stay root's: the processes only read them.
ENV PRUNEBOARD_STATIC_ROOT=/app/staticfiles \
    PRUNEBOARD_VAR_DIR=/tmp/pruneboard \
    DJANGO_SETTINGS_MODULE=pruneboard.settings
RUN PRUNEBOARD_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput -v 0 \
 && python -m compileall -q evaluator leaderboard submissions pruneboard \
 && rm -rf /tmp/build-var

# Every process runs as the unprivileged user; the worker's sandbox uses unprivileged user
# namespaces (docker-compose.yml says what the worker container is allowed for that).
USER pruneboard
ENTRYPOINT ["tini", "--", "/app/deploy/entrypoint"]
CMD ["web"]
