# Messenger web and worker image (docs/deploy.md). One image, two commands (see compose.yaml).
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends libmagic1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY setup.cfg pyproject.toml README.md wsgi.py worker.py gunicorn.conf.py ./
COPY messenger ./messenger
COPY migrations ./migrations
# Editable: the app finds migrations/ next to the package, as in a checkout.
RUN pip install --no-cache-dir -e . && useradd --system --home /app messenger \
 && mkdir -p /data/uploads /run/metrics && chown messenger /data/uploads /run/metrics

USER messenger
ENV UPLOAD_DIR=/data/uploads MESSENGER_INSTANCE=/data PROMETHEUS_MULTIPROC_DIR=/run/metrics LOG_FORMAT=json
EXPOSE 8000
# Migrate, then serve (never --preload: gevent patches before psycopg is imported).
CMD ["sh", "-c", "flask --app wsgi db upgrade && exec gunicorn -k gevent -w ${WEB_WORKERS:-2} --worker-connections ${WORKER_CONNECTIONS:-4000} -b 0.0.0.0:8000 --timeout 60 --graceful-timeout 20 wsgi:app"]
