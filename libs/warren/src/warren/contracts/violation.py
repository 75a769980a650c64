"""How a contract violation reads: pydantic's validation errors as one line a human can act on.

Owns the wording only, shared by the envelope decoder and the consumers that validate event data.
"""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError) -> str:
    """``field.path: what is wrong`` for every error, joined by ``; ``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or '<root>'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    )
