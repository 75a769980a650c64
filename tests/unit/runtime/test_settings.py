"""Fail-fast settings of the HTTP edge: production names its token issuer, never the dev one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from warren.runtime import Issuer, ServiceSettings
from warren.runtime._auth import Authenticator

PRODUCTION = {
    "service": "orders",
    "environment": "production",
    "amqp_url": "amqps://warren-orders:secret@broker:5671/warren",
    "database_url": "postgresql://orders:secret@db:5432?sslmode=verify-full",
}


def test_production_refuses_to_start_without_an_issuer() -> None:
    with pytest.raises(ValidationError, match=r"AUTH_ISSUER.*AUTH_AUDIENCE.*AUTH_JWKS_URL"):
        ServiceSettings(**PRODUCTION)


def test_production_refuses_the_development_issuer(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValidationError, match="development issuer"):
        ServiceSettings(
            **PRODUCTION,
            auth_issuer="warren-dev",
            auth_audience="warren",
            auth_jwks_url="https://login/jwks",
        )
    monkeypatch.setenv("WARREN_STATE_DIR", str(tmp_path))
    dev_key = Issuer.development().public_pem()  # made in tmp_path on first use
    assert oct((tmp_path / "dev-issuer.pem").stat().st_mode & 0o777) == "0o600"
    disguised = ServiceSettings(
        **PRODUCTION, auth_issuer="https://login/", auth_audience="api", auth_public_key=dev_key
    )
    with pytest.raises(ValueError, match="development issuer's key"):
        Authenticator.from_settings(disguised)


def test_only_asymmetric_algorithms_are_accepted() -> None:
    for refused in ("none", "HS256"):
        with pytest.raises(ValidationError):
            ServiceSettings(service="orders", auth_algorithms=(refused,))


def test_production_with_an_issuer_starts() -> None:
    settings = ServiceSettings(
        **PRODUCTION,
        auth_issuer="https://login/",
        auth_audience="api",
        auth_jwks_url="https://login/jwks",
    )
    assert Authenticator.from_settings(settings).is_configured
