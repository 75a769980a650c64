"""Settings every Warren service shares, read from the environment by pydantic-settings.

Owns names, defaults and fail-fast validation (``guest`` and a missing or development token
issuer are refused in production; in production a broker or database off this machine must be
reached over verified TLS, unless ``ALLOW_PLAINTEXT`` says otherwise). TLS itself is configured in
the URLs, which every client and CLI command reads: ``amqps://...?cafile=&certfile=&keyfile=`` and
``postgresql://...?sslmode=verify-full&sslrootcert=&sslcert=&sslkey=``. A service subclasses
``ServiceSettings`` to set its name and port; nothing here is read at import.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warren.messaging.url import vhost_of
from warren.runtime._issuer import DEV_ISSUER
from warren.runtime._transport import amqp_transport_problem, database_transport_problem
from warren.telemetry import LogFormat

Algorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
"""Signature algorithms a token may use: asymmetric only (never ``none``, never a shared HS key)."""


class ServiceSettings(BaseSettings):
    """Configuration of one service process; environment variables are the field names."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    service: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9-]*$")
    environment: Literal["development", "test", "production"] = "development"
    amqp_url: str = "amqp://guest:guest@localhost:5672/warren"
    rabbitmq_management_url: str = ""
    database_url: str = "postgresql://postgres@localhost:5432"
    database_name: str = ""
    database_prefix: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    # Unacked deliveries per work queue. With group commit a delivery waiting for its group
    # holds no pooled connection, and under load the deliveries that wait make the groups:
    # at 10 the saga's groups stayed near 5 and the orders writer was busy all the time at
    # 100 orders/s (bench/RESULTS.md). With COMMIT_GROUP=1 each delivery in flight holds a
    # pooled connection while its handler runs: keep PREFETCH near POOL_SIZE then.
    prefetch: int = Field(default=32, ge=1, le=65535)
    # Deliveries that wait together commit in one transaction, up to this many (1: each alone).
    # Each keeps its own guarantees (see warren.runtime.Writer); it saves a BEGIN, a COMMIT
    # and its WAL flush, and an inbox and an outbox statement per delivery under load.
    commit_group: int = Field(default=16, ge=1, le=1000)
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    delivery_limit: int = Field(default=20, ge=1)
    drain_timeout: float = Field(default=20.0, gt=0)
    outbox_batch: int = Field(default=200, ge=1)
    outbox_stale_seconds: float = Field(
        default=60.0, gt=0, description="/readyz reports the outbox stale past this age"
    )
    pool_size: int = Field(default=10, ge=1)
    retention_days: float = Field(default=7.0, gt=0, description="outbox/inbox row retention")
    housekeeping_interval: float = Field(default=3600.0, gt=0)
    max_message_bytes: int = Field(
        default=256 * 1024, ge=1024, description="largest message body published or consumed"
    )
    verify_publisher: bool | None = Field(
        default=None,
        description="require the broker-validated AMQP user_id to be the event owner's user; "
        "default: on unless the broker login is guest (on in production)",
    )
    log_format: LogFormat = "auto"
    log_level: str = "INFO"
    log_activity: bool | None = None  # one INFO line per request / handled message (logs_activity)
    # Production refuses plaintext (or unverified TLS) to a broker or database off this machine;
    # set this only where the network itself is trusted, e.g. a service mesh that adds mTLS.
    allow_plaintext: bool = False
    # The bearer tokens business routes require (see runtime._auth). In development they default
    # to the local issuer of `warren token`; production must name its identity provider.
    auth_issuer: str = Field(default="", description="the tokens' `iss`")
    auth_audience: str = Field(default="", description="the `aud` a token must carry")
    auth_jwks_url: str = Field(default="", description="the issuer's JWKS (keys by `kid`)")
    auth_public_key: str = Field(default="", description="a PEM public key, instead of a JWKS")
    auth_algorithms: tuple[Algorithm, ...] = ("RS256", "ES256", "EdDSA")
    auth_leeway: float = Field(default=30.0, ge=0, le=300, description="clock skew, seconds")
    # Bounded input (runtime._limits): a bigger body is a 413 before it is buffered.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="request line + headers")
    max_headers: int = Field(default=100, ge=8)
    max_json_depth: int = Field(default=32, ge=2, le=1000)
    # Prometheus scrapes this port; the API port behind the ingress serves no /metrics.
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="0: no metrics server")

    @model_validator(mode="after")
    def _refuse_development_issuer_in_production(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        missing = [
            name
            for name, value in (
                ("AUTH_ISSUER", self.auth_issuer),
                ("AUTH_AUDIENCE", self.auth_audience),
            )
            if not value
        ]
        if not (self.auth_jwks_url or self.auth_public_key):
            missing.append("AUTH_JWKS_URL (or AUTH_PUBLIC_KEY)")
        if missing:
            raise ValueError(f"production needs a token issuer: set {', '.join(missing)}")
        if self.auth_issuer == DEV_ISSUER:
            raise ValueError(
                f"AUTH_ISSUER {DEV_ISSUER!r} is the local development issuer (`warren token`); "
                "production needs a real identity provider"
            )
        return self

    @model_validator(mode="after")
    def _refuse_guest_outside_development(self) -> ServiceSettings:
        user = unquote(urlsplit(self.amqp_url).username or "")
        if user == "guest" and self.environment == "production":
            raise ValueError(
                "AMQP_URL uses the 'guest' user; it is for local development only — "
                "give the service its own user (see infra/rabbitmq/definitions.json)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_plaintext_in_production(self) -> ServiceSettings:
        if self.environment != "production" or self.allow_plaintext:
            return self
        problems = [
            problem
            for problem in (
                amqp_transport_problem(self.amqp_url),
                database_transport_problem(self.database_url),
            )
            if problem is not None
        ]
        if problems:
            raise ValueError(
                "; ".join(problems) + " (README 'TLS'; ALLOW_PLAINTEXT=true to accept the risk)"
            )
        return self

    @property
    def logs_activity(self) -> bool:
        """Whether each HTTP request and each handled message gets an INFO line (with its trace id).

        ``LOG_ACTIVITY`` when set; else on in development (``make run`` shows what flows) and off
        elsewhere, where metrics and traces count the traffic and a line per message would cost.
        """
        if self.log_activity is not None:
            return self.log_activity
        return self.environment == "development"

    @property
    def is_publisher_verified(self) -> bool:
        """Whether consumers check ``user_id`` against the owner's broker user.

        ``VERIFY_PUBLISHER`` when set; else on unless the login is ``guest`` (local development,
        where every service shares it). Production refuses ``guest``, so it is on there.
        """
        if self.verify_publisher is not None:
            return self.verify_publisher
        return unquote(urlsplit(self.amqp_url).username or "") not in ("", "guest")

    @property
    def database(self) -> str:
        """This service's database: ``DATABASE_NAME``, else ``DATABASE_PREFIX`` + service name."""
        return self.database_name or f"{self.database_prefix}{self.service}"

    @property
    def vhost(self) -> str:
        """The vhost named in ``AMQP_URL``."""
        return vhost_of(self.amqp_url)
