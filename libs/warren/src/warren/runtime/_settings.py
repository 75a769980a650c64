"""Settings every Warren service shares, read from the environment by pydantic-settings.

Owns names, defaults and fail-fast validation (``guest`` is refused outside development). A
service subclasses ``ServiceSettings`` to set its name and port; nothing here is read at import.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warren.telemetry import LogFormat


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
    # Keep PREFETCH <= POOL_SIZE: every delivery in flight holds a pooled connection while its
    # handler runs, and deliveries beyond the pool only queue for one.
    prefetch: int = Field(default=10, ge=1, le=65535)
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    delivery_limit: int = Field(default=20, ge=1)
    drain_timeout: float = Field(default=20.0, gt=0)
    outbox_batch: int = Field(default=200, ge=1)
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

    @model_validator(mode="after")
    def _refuse_guest_outside_development(self) -> ServiceSettings:
        user = unquote(urlsplit(self.amqp_url).username or "")
        if user == "guest" and self.environment == "production":
            raise ValueError(
                "AMQP_URL uses the 'guest' user; it is for local development only — "
                "give the service its own user (see infra/rabbitmq/definitions.json)"
            )
        return self

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
        return unquote(urlsplit(self.amqp_url).path[1:]) or "/"
