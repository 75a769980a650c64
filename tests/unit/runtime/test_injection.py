"""Dependency injection by declaration: parameters after (subject, store) are filled by type."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from warren.contracts.event import Event
from warren.runtime._injection import MissingDependency, bind


class Clock:
    """A dependency."""

    def now(self) -> int:
        return 42


class FixedClock(Clock):
    """A subclass: it satisfies a ``Clock`` parameter."""


class Mailer:
    """Another dependency."""


async def plain(subject: object, store: object) -> Sequence[Event]:
    return []


async def timed(subject: list[int], store: object, clock: Clock) -> Sequence[Event]:
    subject.append(clock.now())
    return []


async def optional(subject: object, store: object, mailer: Mailer | None = None) -> list[Event]:
    return []


def test_a_step_without_dependencies_is_returned_unchanged() -> None:
    assert bind(plain, [Clock()]) is plain


async def test_a_declared_parameter_is_filled_by_type_and_the_name_is_kept() -> None:
    seen: list[int] = []

    call = bind(timed, [Mailer(), FixedClock()])
    await call(seen, None)

    assert seen == [42]
    assert getattr(call, "__name__", None) == "timed"


def test_a_missing_dependency_names_the_step_and_the_parameter() -> None:
    with pytest.raises(MissingDependency, match=r"timed\(clock: Clock\): nothing provides it"):
        bind(timed, [Mailer()])


def test_two_candidates_are_ambiguous() -> None:
    with pytest.raises(MissingDependency, match="2 dependencies match"):
        bind(timed, [Clock(), FixedClock()])


def test_a_parameter_with_a_default_may_go_unprovided() -> None:
    assert callable(bind(optional, []))
