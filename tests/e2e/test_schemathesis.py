"""Every service's OpenAPI, fuzzed by schemathesis against the running suite: no 5xx, every status
documented, every body as the schema says, and every 4xx explained (a ``detail`` saying why).
Authentication is on: the fuzzer calls with an operator's token holding every scope, so it reaches
the routes' validation and logic rather than stopping at 401.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)


@schemathesis.check
def client_error_is_explained(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answer says why: a JSON body whose ``detail`` is not empty."""
    if 400 <= response.status_code < 500:
        body = response.json()
        why = f"{case.method} {case.path} answered {response.status_code} without a detail"
        assert isinstance(body, dict), why
        assert body.get("detail"), why
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    client_error_is_explained,
]


def _schema_of(service: str) -> Any:
    @pytest.fixture
    def api(shop) -> Any:
        base = shop.suite.services[service].url
        return schemathesis.openapi.from_url(f"{base}/openapi.json")  # base URL: its origin

    api.__name__ = f"{service}_api"
    return api


orders_api = _schema_of("orders")
inventory_api = _schema_of("inventory")
payments_api = _schema_of("payments")
notifications_api = _schema_of("notifications")

_FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _fuzz(name: str) -> Any:
    schema = schemathesis.pytest.from_fixture(name)

    @schema.parametrize()
    @_FUZZ
    def test(case: Any, operator_token: str) -> None:
        case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {operator_token}"})

    return test


test_orders_api = _fuzz("orders_api")
test_inventory_api = _fuzz("inventory_api")
test_payments_api = _fuzz("payments_api")
test_notifications_api = _fuzz("notifications_api")
