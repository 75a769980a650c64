# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every service of the workspace, and for the CLI:
#
#   docker build --target service --build-arg SERVICE=orders -t warren/orders .
#   docker build --target tools -t warren/tools .        (the `warren` CLI, for one-shot jobs)
#
# A service image holds that service's workspace member and what it depends on (the platform and
# the suite's contracts), installed from the one lock file: never another service. SERVICE is a
# member's name (services/<SERVICE>), so a new service needs no edit here. The process runs in
# exec form under tini, which forwards SIGTERM and reaps zombies.

# ---------------------------------------------------------------------------------------------
# build: resolve the locked dependencies of one member (or of all, for `tools`) into /app/.venv.
# uv and its caches stay in this stage.
FROM python:3.11-slim-bookworm AS build

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src
# Empty: every member (the tools image). A service's name: that service and its dependencies.
ARG SERVICE=""

# The locked dependencies and the members themselves, installed as wheels (not editable): the
# image needs no sources. uv's cache mount keeps a rebuild after a source change fast.
COPY pyproject.toml uv.lock ./
COPY contracts ./contracts
COPY libs ./libs
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable ${SERVICE:+--package "$SERVICE"} ${SERVICE:---all-packages}

# ---------------------------------------------------------------------------------------------
# runtime: the interpreter, the virtual environment and tini; no compiler, no uv, no sources.
# The same base as `build`, so the venv's interpreter path (/usr/local/bin/python3.11) exists.
FROM python:3.11-slim-bookworm AS runtime

# tini as PID 1 forwards SIGTERM to the service (which drains for DRAIN_TIMEOUT) and reaps
# zombies. The version is pinned to Debian bookworm's.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini=0.19.0-1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid (Kubernetes' runAsNonRoot checks the number). /var/lib/warren is
# the one writable place, for one-shot jobs (docker compose renders broker definitions there);
# the services write nothing to disk and run with a read-only root file system.
RUN groupadd --system --gid 10001 warren \
    && useradd --system --uid 10001 --gid warren --home-dir /var/lib/warren \
       --no-create-home --shell /usr/sbin/nologin warren \
    && install --directory --owner=10001 --group=10001 /var/lib/warren

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    LOG_FORMAT=json

WORKDIR /var/lib/warren
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
# Docker's health status is what `docker compose up --wait` and `depends_on: service_healthy`
# read, so it reports readiness (broker and database reachable). Kubernetes ignores it and uses
# the Deployment's own probes. HTTP_PORT is set by the deployment (compose, Kubernetes).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8000') + '/readyz', timeout=2)"]

# ---------------------------------------------------------------------------------------------
# tools: every member, for the CLI's one-shot jobs (definitions, topology, DLQ replay).
FROM runtime AS tools
COPY --from=build /app/.venv /app/.venv
# The workspace's [tool.warren] (its services and catalogue): what the CLI operates on.
COPY --from=build /src/pyproject.toml /app/pyproject.toml
ENV WARREN_PROJECT=/app/pyproject.toml
CMD ["warren", "--help"]

# service: one service (--build-arg SERVICE=<name>); HTTP_PORT comes from the deployment.
FROM runtime AS service
ARG SERVICE
ENV WARREN_SERVICE=${SERVICE}
COPY --from=build /app/.venv /app/.venv
CMD ["sh", "-c", "exec python -m \"$WARREN_SERVICE\""]
