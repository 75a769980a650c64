"""The authenticator remembers tokens that verified: by their exact text, until they expire,
a bounded number of them; a forged or expired token is never let through by the memory."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt
import pytest

from warren.runtime import Issuer, _auth
from warren.runtime._auth import Authenticator, Unauthorized

ISSUER = Issuer(issuer="https://login.test/", audience="api")


def authenticator() -> Authenticator:
    return Authenticator(
        issuer=ISSUER.issuer,
        audience=ISSUER.audience,
        algorithms=["ES256"],
        leeway=0,
        public_key=ISSUER.public_pem(),
    )


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature was checked, in order."""
    checked: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return checked


async def test_a_token_that_verified_is_not_checked_again(decodes: list[str]) -> None:
    auth, token = authenticator(), ISSUER.token("alice", ["orders:read"])
    first = await auth.verify(token)
    again = await auth.verify(token)

    assert again == first
    assert again.subject == "alice"
    assert decodes == [token]


async def test_a_remembered_token_still_expires(decodes: list[str]) -> None:
    auth, token = authenticator(), ISSUER.token("alice", ttl=1)
    await auth.verify(token)
    await asyncio.sleep(1.2)

    with pytest.raises(Unauthorized, match="expired"):
        await auth.verify(token)
    assert decodes == [token, token]


async def test_a_forged_twin_of_a_remembered_token_is_refused(decodes: list[str]) -> None:
    auth, token = authenticator(), ISSUER.token("alice", ["orders:write"])
    await auth.verify(token)
    header, claims, signature = token.split(".")
    forged = f"{header}.{claims}.{signature[:-4]}AAAA"

    with pytest.raises(Unauthorized):
        await auth.verify(forged)
    assert decodes == [token, forged]


async def test_failures_are_not_remembered(decodes: list[str]) -> None:
    auth = authenticator()
    stranger = Issuer(issuer=ISSUER.issuer, audience=ISSUER.audience).token("eve")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await auth.verify(stranger)
    assert decodes == [stranger, stranger]


async def test_the_memory_is_bounded_least_recently_used_first_out(
    decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_auth, "VERIFIED_TOKENS", 2)
    auth = authenticator()
    a, b, c = (ISSUER.token(name) for name in ("a", "b", "c"))
    await auth.verify(a)
    await auth.verify(b)
    await auth.verify(a)  # a is now the most recently used
    await auth.verify(c)  # b goes
    decodes.clear()

    await auth.verify(a)
    await auth.verify(c)
    assert decodes == []
    await auth.verify(b)
    assert decodes == [b]
