"""Dependency injection by declaration: a step names what it needs as typed parameters.

Owns turning ``async def capture_payment(event: StockReserved, store: PaymentStore, provider:
Provider)`` into a call the unit of work can make with ``(event, store)``: every parameter after
the first two is resolved once, by its annotated type, from the service's ``dependencies``. A
parameter nothing provides is an error when the service is built, never at the first message.
It holds no state of its own and imports no framework (cosmicpython's ``inject_dependencies``).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from warren.contracts.event import Event

Call = Callable[[Any, Any], Awaitable[Sequence[Event]]]


class MissingDependency(TypeError):
    """A step declares a parameter that none of the service's dependencies satisfies."""


def bind(step: Callable[..., Awaitable[Sequence[Event]]], provided: Sequence[object]) -> Call:
    """``step`` as a ``(subject, store)`` call, its other parameters filled from ``provided``.

    A parameter is filled by the one dependency that is an instance of its annotated type (the
    type itself, a base class or a protocol class it subclasses). A step with just ``(subject,
    store)`` is returned as it is, so the common case costs nothing per call.
    """
    extra = list(inspect.signature(step).parameters.values())[2:]
    if not extra:
        return step
    hints = typing.get_type_hints(step, include_extras=False)
    values = {parameter.name: _resolve(step, parameter, hints, provided) for parameter in extra}
    call = functools.partial(step, **values)
    return functools.update_wrapper(call, step)


def _resolve(
    step: Callable[..., Any],
    parameter: inspect.Parameter,
    hints: dict[str, Any],
    provided: Sequence[object],
) -> object:
    wanted = hints.get(parameter.name)
    matches = [d for d in provided if isinstance(wanted, type) and isinstance(d, wanted)]
    if len(matches) == 1:
        return matches[0]
    if parameter.default is not inspect.Parameter.empty and not matches:
        return parameter.default
    name = getattr(step, "__qualname__", repr(step))
    what = getattr(wanted, "__name__", repr(wanted))
    if matches:
        raise MissingDependency(
            f"{name}({parameter.name}: {what}): {len(matches)} dependencies match; give one"
        )
    raise MissingDependency(
        f"{name}({parameter.name}: {what}): nothing provides it; "
        f"pass an instance in Service(dependencies=[...])"
    )
