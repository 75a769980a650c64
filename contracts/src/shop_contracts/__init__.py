"""The shop's contracts: the events of Warren's reference order saga, one definition each.

``orders``, ``stock``, ``products`` and ``payments`` hold the events by publishing aggregate,
``money`` the value types they share, and ``catalogue`` gathers them into the one registry the
suite's tools read. Built on ``warren.contracts`` (the core) and pydantic only: no broker, no
database.
"""
