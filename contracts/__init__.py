"""Warren's contracts: the events the suite speaks, one definition each.

The core (``event``, ``envelope``, ``registry``, ``compatibility``, ``schema``) is the language;
``orders``, ``stock`` and ``payments`` are the suite's events, by publishing aggregate, and
``catalogue`` gathers them into one registry. This package depends on pydantic and the stdlib only.
"""
