"""Production refuses plaintext or unverified TLS to a broker or database off this machine."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from warren.runtime import ServiceSettings

TLS_AMQP = "amqps://orders:pw@rabbit.example:5671/warren?cafile=/etc/warren/tls/ca.crt"
TLS_DB = "postgresql://orders:pw@db.example:5432?sslmode=verify-full&sslrootcert=/etc/ca.crt"


def production(**overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "service": "orders",
        "environment": "production",
        "amqp_url": TLS_AMQP,
        "database_url": TLS_DB,
        # production also needs a token issuer (runtime._auth): not what these tests are about
        "auth_issuer": "https://login.example/",
        "auth_audience": "warren",
        "auth_jwks_url": "https://login.example/jwks",
    }
    return ServiceSettings.model_validate({**values, **overrides})


def test_verified_tls_to_remote_servers_is_accepted() -> None:
    assert production().amqp_url == TLS_AMQP


@pytest.mark.parametrize(
    ("field", "url", "reason"),
    [
        ("amqp_url", "amqp://orders:pw@rabbit.example:5672/warren", "use amqps://"),
        ("amqp_url", "amqps://orders:pw@a:5671,10.0.0.2:5671/w?no_verify_ssl=1", "no_verify_ssl"),
        ("amqp_url", "amqp://orders:pw@127.0.0.1:5672,rabbit-2:5672/w", "rabbit-2"),
        ("database_url", "postgresql://orders:pw@db.example:5432", "no sslmode"),
        ("database_url", "postgresql://o@db.example:5432?sslmode=require", "sslmode=require"),
        ("database_url", "postgresql://o@db.example:5432?sslmode=verify-ca", "verify-full"),
        ("database_url", "postgresql://o@/x?host=db.example", "no sslmode"),
    ],
)
def test_plaintext_or_unverified_tls_off_this_machine_is_refused(
    field: str, url: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        production(**{field: url})


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("amqp_url", "amqp://orders:pw@localhost:5672/warren"),
        ("amqp_url", "amqp://orders:pw@127.0.0.1:5672,[::1]:5673/warren"),
        ("database_url", "postgresql://orders@127.0.0.1:5432"),
        ("database_url", "postgresql://orders@/orders?host=/run/postgresql"),
    ],
)
def test_plaintext_on_this_machine_is_allowed(field: str, url: str) -> None:
    assert getattr(production(**{field: url}), field) == url


def test_allow_plaintext_lets_production_accept_the_risk() -> None:
    plain = "amqp://orders:pw@rabbit.example:5672/warren"
    assert production(amqp_url=plain, allow_plaintext=True).amqp_url == plain


def test_development_does_not_insist_on_tls() -> None:
    plain = "amqp://orders:pw@rabbit.example:5672/warren"
    settings = ServiceSettings(service="orders", environment="development", amqp_url=plain)
    assert settings.amqp_url == plain
