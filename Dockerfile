# syntax=docker/dockerfile:1.7
#
# One image build for the whole suite, one target per service:
#
#   docker build --target orders -t warren/orders .      (inventory, payments, notifications alike)
#
# The four services are one uv project with one lock file, so they share every dependency layer;
# a target per service only fixes its command, port and health check (exec form, no shell, so
# the service is the direct child of tini, which forwards SIGTERM and reaps zombies). The
# `runtime` target is the same image without a service: the `warren` CLI, for one-shot jobs.

# ---------------------------------------------------------------------------------------------
# build: resolve the locked dependencies into /app/.venv. uv and its caches stay in this stage.
FROM python:3.11-slim-bookworm AS build

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies only, from the lock file: this layer is rebuilt only when the lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project

# Then the suite itself, installed as a wheel (not editable): the final image needs no sources.
COPY pyproject.toml uv.lock README.md ./
COPY contracts ./contracts
COPY libs ./libs
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

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

COPY --from=build /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0 \
    LOG_FORMAT=json \
    WARREN_SERVICES=notifications,payments,inventory,orders \
    WARREN_CATALOGUE=contracts.catalogue:REGISTRY
# (the WARREN_* pair is pyproject's [tool.warren], which the image does not contain: the CLI's suite)

WORKDIR /var/lib/warren
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["warren", "--help"]

# Docker's health status is what `docker compose up --wait` and `depends_on: service_healthy`
# read, so it reports readiness (broker and database reachable). Kubernetes ignores it and uses
# the Deployment's own probes. HTTP_PORT is set by each service target below.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8000') + '/readyz', timeout=2)"]

# ---------------------------------------------------------------------------------------------
# One target per service: its module, port and health check port.
FROM runtime AS orders
ENV HTTP_PORT=8001
EXPOSE 8001
CMD ["python", "-m", "orders"]

FROM runtime AS inventory
ENV HTTP_PORT=8002
EXPOSE 8002
CMD ["python", "-m", "inventory"]

FROM runtime AS payments
ENV HTTP_PORT=8003
EXPOSE 8003
CMD ["python", "-m", "payments"]

FROM runtime AS notifications
ENV HTTP_PORT=8004
EXPOSE 8004
CMD ["python", "-m", "notifications"]
