"""The payments composition root: settings from the environment, the queue and its handler table."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payments.handlers import capture_payment
from payments.main import Settings, build
from payments.provider import SimulatedProvider
from shop_contracts.orders import OrderCancelled
from shop_contracts.stock import StockReserved

PROVIDER_VARIABLES = ("PAYMENT_LIMITS", "PAYMENT_DEFAULT_LIMIT", "PAYMENT_FAILURE_RATE")


def test_the_defaults_are_the_designs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.service, settings.http_port) == ("payments", 8003)
    assert settings.payment_default_limit == 100_000
    assert settings.payment_limits == {}
    assert settings.payment_failure_rate == 0.0


def test_provider_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_LIMITS", '{"alice": 5000, "vip": 2000000}')
    monkeypatch.setenv("PAYMENT_DEFAULT_LIMIT", "777")
    monkeypatch.setenv("PAYMENT_FAILURE_RATE", "0.25")
    settings = Settings()
    assert settings.payment_limits == {"alice": 5000, "vip": 2_000_000}
    assert settings.payment_default_limit == 777
    assert settings.payment_failure_rate == 0.25


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAYMENT_FAILURE_RATE", "1.5"),
        ("PAYMENT_FAILURE_RATE", "-0.1"),
        ("PAYMENT_DEFAULT_LIMIT", "-1"),
        ("PAYMENT_LIMITS", '{"alice": -5}'),
        ("PAYMENT_LIMITS", "not json"),
    ],
)
def test_bad_provider_settings_fail_fast(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises((ValidationError, ValueError)):
        Settings()


def test_build_declares_the_charges_queue_for_stock_reserved_and_order_cancelled() -> None:
    service = build(Settings())
    [subscription] = service.subscriptions
    assert subscription.purpose == "charges"
    assert list(subscription.handlers) == [StockReserved, OrderCancelled]
    assert [m.name for m in service.migrations] == ["0001_payments", "0002_refunds"]
    assert service.router is not None


def test_the_provider_is_a_declared_dependency_not_a_bound_argument() -> None:
    service = build(Settings())
    [subscription] = service.subscriptions
    assert subscription.handlers[StockReserved] is capture_payment
    assert [type(d) for d in service.dependencies] == [SimulatedProvider]
