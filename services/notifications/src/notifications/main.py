"""The notifications composition root: its settings and ``build()``. Nothing runs at import."""

from __future__ import annotations

from pathlib import Path

from notifications import api
from notifications.handlers import HANDLERS
from notifications.store import NotificationStore
from warren.db import migrations_in
from warren.runtime import Service, ServiceSettings, Subscription

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    """Notifications' settings: the shared ones with this service's name and port."""

    service: str = "notifications"
    http_port: int = 8004


def build(settings: Settings | None = None) -> Service[NotificationStore]:
    """Assemble the notifications service from ``settings`` (default: the environment)."""
    return Service(
        settings=settings or Settings(),
        store=NotificationStore,
        publishes=[],
        migrations=migrations_in(MIGRATIONS),
        subscriptions=[Subscription("outbound", HANDLERS)],
        router=api.router,
        title="Warren notifications",
    )
