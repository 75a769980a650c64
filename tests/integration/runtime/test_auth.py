"""The authenticator against a real JWKS endpoint (a local HTTP server): keys are fetched off the
event loop, cached, and fetched again when a token names a key the cache does not know."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from warren.runtime import Issuer
from warren.runtime._auth import Authenticator, Unauthorized


class Jwks:
    """Serves the public keys of ``issuers`` at ``url``; counts the fetches."""

    def __init__(self) -> None:
        self.issuers: list[Issuer] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                keys = []
                for issuer in jwks.issuers:
                    key = json.loads(
                        jwt.algorithms.ECAlgorithm.to_jwk(issuer.private_key.public_key())
                    )
                    keys.append({**key, "kid": issuer.kid, "use": "sig", "alg": "ES256"})
                body = json.dumps({"keys": keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()


def issuer(kid: str) -> Issuer:
    return Issuer(issuer="https://login.test/", audience="api", kid=kid)


def authenticator(jwks: Jwks, refresh_interval: float) -> Authenticator:
    return Authenticator(
        issuer="https://login.test/",
        audience="api",
        algorithms=["ES256"],
        jwks_url=jwks.url,
        jwks_refresh_interval=refresh_interval,
    )


async def test_keys_come_from_the_jwks_cached_and_refreshed_on_an_unknown_kid(jwks: Jwks) -> None:
    first, rotated = issuer("k1"), issuer("k2")
    jwks.issuers = [first]
    auth = authenticator(jwks, refresh_interval=0)
    for _ in range(3):
        assert (await auth.verify(first.token("alice", ["orders:read"]))).subject == "alice"
    assert jwks.fetches == 1  # cached

    jwks.issuers = [first, rotated]  # the provider rotates its keys
    principal = await auth.verify(rotated.token("bob", ["orders:read"]))
    assert (principal.subject, principal.scopes) == ("bob", frozenset({"orders:read"}))
    assert jwks.fetches == 2
    with pytest.raises(Unauthorized):  # a known kid, another key: the signature fails
        await auth.verify(issuer("k1").token("mallory"))


async def test_unknown_kids_do_not_hammer_the_issuer(jwks: Jwks) -> None:
    jwks.issuers = [issuer("k1")]
    auth = authenticator(jwks, refresh_interval=10)
    await auth.verify(jwks.issuers[0].token("alice"))
    for kid in ("k2", "k3", "k4"):
        with pytest.raises(Unauthorized, match="unknown signing key"):
            await auth.verify(issuer(kid).token("eve"))
    assert jwks.fetches == 1  # within 10 s of the last fetch: no new one


async def test_a_withdrawn_key_takes_the_tokens_it_signed_with_it(jwks: Jwks) -> None:
    old, new = issuer("k1"), issuer("k2")
    jwks.issuers = [old]
    auth = authenticator(jwks, refresh_interval=0)
    remembered = old.token("alice")
    await auth.verify(remembered)

    jwks.issuers = [new]  # k1 withdrawn (say, leaked); seen at the next refresh
    await auth.verify(new.token("bob"))

    with pytest.raises(Unauthorized, match="unknown signing key"):
        await auth.verify(remembered)
