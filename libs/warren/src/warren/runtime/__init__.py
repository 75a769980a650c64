"""Running a Warren service: settings, the service declaration, the unit of work, the lifecycle.

A service's ``main.build()`` returns a ``Service``; ``run(build)`` serves it. Routes take
``store``/``writer`` dependencies and declare who may call them with ``Scopes(...)`` (the caller
is a ``Principal``); handlers and commands are ``Step``s run by the ``Writer``.

What only the CLI and the tests need lives in public modules named by their noun: ``suite``
(the services of a project as local processes) and ``asyncapi`` (the AsyncAPI document).
"""

from warren.runtime._auth import ADMIN_SCOPE, Principal, Scopes
from warren.runtime._http import (
    NOT_FOUND,
    UNREADABLE_BODY,
    Problem,
    create_app,
    store,
    writer,
)
from warren.runtime._issuer import Issuer
from warren.runtime._runner import run
from warren.runtime._runtime import Runtime
from warren.runtime._service import Service, Step, Subscription
from warren.runtime._settings import ServiceSettings
from warren.runtime._unit_of_work import Writer

__all__ = [
    "ADMIN_SCOPE",
    "NOT_FOUND",
    "UNREADABLE_BODY",
    "Issuer",
    "Principal",
    "Problem",
    "Runtime",
    "Scopes",
    "Service",
    "ServiceSettings",
    "Step",
    "Subscription",
    "Writer",
    "create_app",
    "run",
    "store",
    "writer",
]
