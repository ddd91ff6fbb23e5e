FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files under hashed names with gzip copies, in the image (WhiteNoise serves them).
ENV PRUNEBOARD_STATIC_ROOT=/app/staticfiles
RUN PRUNEBOARD_VAR_DIR=/tmp/build-var python manage.py collectstatic --noinput && rm -rf /tmp/build-var
