"""Who is calling: OAuth2 bearer JWTs checked on every business route, scopes per route.

Owns the ``Authenticator`` (signature against the issuer's JWKS or a configured public key, an
allow-list of asymmetric algorithms, ``iss``, ``aud``, ``exp``/``nbf`` with a small leeway), the
``Principal`` a route receives (the token's ``sub`` and scopes), and ``Scopes(...)``, the FastAPI
dependency a route declares. It decides nothing about resources: owner checks are the routes'.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from warren.runtime._issuer import DEV_AUDIENCE, DEV_ISSUER, Issuer, state_dir
from warren.runtime._settings import ServiceSettings

log = structlog.get_logger(__name__)

ADMIN_SCOPE = "warren:admin"
"""The scope of operators: read any customer's resources (it grants no write)."""

REALM = "warren"
JWKS_REFRESH_INTERVAL = 10.0  # an unknown ``kid`` refetches the JWKS at most this often
VERIFIED_TOKENS = 4096  # tokens remembered as verified: ~4 MB at most, many clients' worth
_SUBJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
_UNQUOTABLE = re.compile(r'[^\x20-\x7e]|["\\]')

bearer = HTTPBearer(
    bearerFormat="JWT",
    scheme_name="bearer",
    description="An OAuth2 access token (JWT) from the configured issuer; "
    "in development: `warren token --customer alice --scope orders:read`",
    auto_error=False,
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the token's subject (a customer id) and its scopes."""

    subject: str
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_admin(self) -> bool:
        """Whether the caller may read every customer's resources."""
        return ADMIN_SCOPE in self.scopes

    def may_see(self, owner: str) -> bool:
        """Whether a resource of ``owner`` is visible to this caller."""
        return owner == self.subject or self.is_admin

    def customer_to_list(self, asked: str | None, what: str) -> str | None:
        """Whose ``what`` a listing shows: the caller's own, or (``warren:admin``) anyone's.

        An operator gets ``asked`` (None: every customer's). A customer gets their own, and
        asking for someone else's is a 403 naming the scope it would need.
        """
        if self.is_admin:
            return asked
        if asked in (None, self.subject):
            return self.subject
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"listing another customer's {what} needs {ADMIN_SCOPE}"
        )


class Unauthorized(HTTPException):
    """401 with the RFC 6750 challenge: no token, or one that does not verify."""

    def __init__(self, reason: str, *, token_given: bool = True) -> None:
        challenge = f'Bearer realm="{REALM}"'
        if token_given:
            challenge += f', error="invalid_token", error_description="{_quotable(reason)}"'
        super().__init__(status.HTTP_401_UNAUTHORIZED, reason, {"WWW-Authenticate": challenge})


class Authenticator:
    """Verifies bearer tokens of one issuer; ``await verify(token)`` -> ``Principal``.

    A client sends the same access token with every request until it expires, and checking its
    signature is the dearest part of a request here (an RSA verify, and the token parsed twice).
    So a token that verified is remembered, by its exact text (signature included, so no other
    token can match it), until its ``exp`` — checked again at every use — and at most
    ``VERIFIED_TOKENS`` of them, least recently used first out. Tokens that fail are never
    remembered, and a refresh of the issuer's keys (a key may have been withdrawn) forgets all.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        leeway: float = 30.0,
        public_key: str = "",
        jwks_url: str = "",
        jwks_refresh_interval: float = JWKS_REFRESH_INTERVAL,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway
        self._static_key: Any = _public_key(public_key) if public_key else None
        self._jwks = jwt.PyJWKClient(jwks_url, lifespan=300, timeout=5) if jwks_url else None
        self._keys: dict[str, Any] = {}
        self._refreshed = -math.inf
        self._refresh_interval = jwks_refresh_interval
        self._refreshing = asyncio.Lock()
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Authenticator:
        """The service's authenticator; in development the local issuer is the default."""
        issuer, audience = settings.auth_issuer, settings.auth_audience
        key, jwks = settings.auth_public_key, settings.auth_jwks_url
        if settings.environment == "development" and not (key or jwks):
            key = Issuer.development().public_pem()
            issuer, audience = issuer or DEV_ISSUER, audience or DEV_AUDIENCE
        if settings.environment == "production" and key and _is_development_key(key):
            raise ValueError(
                "AUTH_PUBLIC_KEY is the development issuer's key: refused in production"
            )
        if not (issuer and audience and (key or jwks)):
            log.warning("no token issuer configured: every business route answers 401")
        return cls(
            issuer=issuer,
            audience=audience,
            algorithms=settings.auth_algorithms,
            leeway=settings.auth_leeway,
            public_key=key,
            jwks_url=jwks,
        )

    @property
    def is_configured(self) -> bool:
        """Whether any token can verify (an issuer, an audience and a key source)."""
        has_key = self._static_key is not None or self._jwks is not None
        return bool(self.issuer and self.audience and has_key)

    async def verify(self, token: str) -> Principal:
        """The token's principal; ``Unauthorized`` for anything that does not verify."""
        if not self.is_configured:
            raise Unauthorized("this service trusts no token issuer (set AUTH_ISSUER, …)")
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires = remembered
            if time.time() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]  # expired: verify again, for the precise refusal
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """Check the token in full: its principal, and when it stops being accepted."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthorized(f"malformed token: {error}") from None
        if header.get("alg") not in self.algorithms:
            raise Unauthorized(f"algorithm {header.get('alg')!r} is not accepted")
        key = self._static_key if self._jwks is None else await self._jwks_key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as error:  # a key of another type: TypeError
            raise Unauthorized(str(error)[:200] or type(error).__name__) from None
        return _principal(claims), float(claims["exp"]) + self.leeway

    async def _jwks_key(self, kid: object) -> Any:
        if not isinstance(kid, str):
            raise Unauthorized("the token names no key (kid)")
        if kid in self._keys:
            return self._keys[kid]
        async with self._refreshing:  # one fetch at a time; the others then find the key
            if kid not in self._keys:
                await self._refresh()
        if kid not in self._keys:
            raise Unauthorized(f"unknown signing key {kid!r}")
        return self._keys[kid]

    async def _refresh(self) -> None:
        if time.monotonic() - self._refreshed < self._refresh_interval:
            return  # unknown kids must not make us hammer the issuer
        self._refreshed = time.monotonic()
        assert self._jwks is not None
        try:  # PyJWKClient is synchronous: fetch in a thread, never on the event loop
            keys = await asyncio.to_thread(self._jwks.get_signing_keys, True)
        except jwt.PyJWKClientError as error:
            log.warning("JWKS fetch failed", error=str(error))
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the token issuer's keys are unavailable"
            ) from None
        self._keys = {k.key_id: k.key for k in keys if k.key_id}
        self._verified.clear()  # a withdrawn key must not live on in tokens it signed


async def authenticate(
    request: Request,
    required: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Dependency: the verified caller, holding every scope the route requires (else 401/403)."""
    if credentials is None:
        raise Unauthorized("a bearer token is required", token_given=False)
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.verify(credentials.credentials)
    missing = [scope for scope in required.scopes if scope not in principal.scopes]
    if missing:
        wanted = " ".join(required.scopes)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"the token lacks the scope {' '.join(missing)}",
            {
                "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                f'scope="{_quotable(wanted)}"'
            },
        )
    return principal


def Scopes(*scopes: str) -> Any:  # noqa: N802  (reads as a marker: Annotated[Principal, Scopes()])
    """A route's required scopes: ``caller: Annotated[Principal, Scopes("orders:read")]``."""
    return Security(authenticate, scopes=list(scopes))


def is_secured(dependant: Any) -> bool:
    """Whether a route's dependency tree includes ``authenticate``."""
    return any(
        dep.call is authenticate or is_secured(dep)
        for dep in getattr(dependant, "dependencies", ())
    )


def _principal(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.match(subject):
        raise Unauthorized("the token's sub must be 1-128 printable characters")
    granted: set[str] = set()
    for name in ("scope", "scp"):  # RFC 9068 `scope` (a string); some issuers send `scp` (a list)
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(v for v in value if isinstance(v, str))
    # Read-only: a remembered principal is shared by every request that presents its token.
    return Principal(subject, frozenset(granted), MappingProxyType(dict(claims)))


def _public_key(pem: str) -> Any:
    try:
        return serialization.load_pem_public_key(pem.replace("\\n", "\n").encode())
    except ValueError as error:
        raise ValueError(f"AUTH_PUBLIC_KEY is not a PEM public key: {error}") from None


def _is_development_key(pem: str) -> bool:
    path: Path = state_dir() / "dev-issuer.pem"
    if not path.exists():
        return False
    return _normalised(pem) == _normalised(Issuer.development(path.parent).public_pem())


def _normalised(pem: str) -> str:
    return "".join(pem.replace("\\n", "\n").split())


def _quotable(text: str) -> str:
    return _UNQUOTABLE.sub("'", text)[:200]
