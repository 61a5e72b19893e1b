# Auditor as a container: for cron hosts, Kubernetes CronJobs and CI runners.
#   docker build -t auditor .
#   docker run --rm -v "$PWD:/scan" -e DB_PASSWORD auditor scan -c /scan/auditor.yaml \
#       --format json --format pdf -o /scan/report
# The image holds no configuration and no secret: mount the config, pass passwords as
# environment variables or mounted files (the config references them, see docs/configuration.md).
FROM python:3.11-slim-bookworm

# WeasyPrint (PDF reports) needs Pango and HarfBuzz's subsetter; the report's fonts are
# Liberation (Arial/Courier metrics) with DejaVu as fallback. No PostgreSQL client is needed:
# the scanner talks to servers through psycopg's bundled libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        fonts-liberation fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The whole source tree less what .dockerignore leaves out (tests, fixtures, caches).
COPY . ./
# The cloud extras (aws, azure, gcp, vault) for fleet discovery and secret stores.
RUN pip install --no-cache-dir ".[all]" && rm -rf /src

# Never run as root: the scanner only reads, and writes reports where it is told.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin auditor
USER 10001:10001
WORKDIR /home/auditor
ENV PYTHONUNBUFFERED=1

ENTRYPOINT ["auditor"]
CMD ["--help"]
