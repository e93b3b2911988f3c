# cdc-engine container image: `docker build -t cdc-engine .`
#   docker run --rm -v "$PWD/config:/config" -e POSTGRES_PASSWORD=... cdc-engine start --config /config/postgres.yaml
# The image holds the engine only (no PostgreSQL, no broker, no tests): `cdc-engine demo` needs a source checkout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# psycopg[binary] and confluent-kafka ship manylinux wheels (libpq and librdkafka included): no compiler needed.
COPY pyproject.toml README.md ./
COPY cdc ./cdc
COPY schemas ./schemas
COPY snapshot ./snapshot
COPY sinks ./sinks
RUN pip install . && rm -rf /src

COPY config /config
RUN useradd --system --no-create-home --uid 10001 cdc
USER cdc
WORKDIR /

# SIGTERM (docker stop) makes the engine flush, store its offset and exit 0; give it time to do so
# (docker compose: stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["cdc-engine"]
CMD ["start", "--config", "/config/postgres.yaml"]
