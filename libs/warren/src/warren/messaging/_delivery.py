"""What a handler may know about the message that carried its event, besides the event itself.

A value object; it offers no way to ack, reject or publish, so handlers stay free of plumbing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    """Metadata of one delivery: ids, where it came from, and which attempt this is (1-based)."""

    message_id: str
    event_type: str
    source: str
    time: datetime
    correlation_id: str | None
    queue: str
    attempt: int
    redelivered: bool
    headers: Mapping[str, Any]
