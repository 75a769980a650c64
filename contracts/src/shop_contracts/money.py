"""Money and the other small value types events share: integer minor units, ISO codes, SKUs.

Owns field constraints only; no arithmetic beyond what the saga needs, no currency conversion.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
CustomerId = Annotated[str, Field(min_length=1, max_length=128)]
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
"""For text that reaches a database: PostgreSQL refuses NUL, and control characters are never
meant. HTTP edges apply it to customer ids (the recorded event schemas are left as they are)."""
MAX_MINOR_UNITS = 10**12
"""The largest amount any event carries (ten billion in a two-decimal currency)."""
MinorUnits = Annotated[
    int, Field(ge=0, le=MAX_MINOR_UNITS, description="amount in minor units (cents)")
]
Quantity = Annotated[int, Field(gt=0, le=10_000)]


class Money(BaseModel):
    """An amount in integer minor units of ``currency`` (1999 EUR = 19.99 EUR)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    amount: MinorUnits
    currency: Currency
