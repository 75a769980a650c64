"""A token issuer for development and tests: an EC key pair that signs bearer JWTs.

Owns the local development issuer behind ``warren token`` (its key generated on first use in the
user's state folder, mode 0600) and the in-memory issuers tests make. It signs with PyJWT and
validates nothing: checking tokens is ``runtime._auth``'s job. Never an identity provider for
production: services refuse its issuer name there.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEV_ISSUER = "warren-dev"
"""The ``iss`` of development tokens; a production service refuses to trust it."""

DEV_AUDIENCE = "warren"
"""The ``aud`` of development tokens, and what development services expect."""

ALGORITHM = "ES256"


def state_dir() -> Path:
    """The development issuer's folder: ``$WARREN_STATE_DIR``, else the XDG state home."""
    explicit = os.environ.get("WARREN_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "warren"


class Issuer:
    """Signs tokens as ``issuer`` for ``audience`` with one EC P-256 key."""

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        *,
        issuer: str = DEV_ISSUER,
        audience: str = DEV_AUDIENCE,
        kid: str = "dev",
    ) -> None:
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.issuer = issuer
        self.audience = audience
        self.kid = kid

    @classmethod
    def development(cls, folder: Path | None = None) -> Issuer:
        """The local development issuer, its key made on first use (``<state>/dev-issuer.pem``)."""
        path = (folder or state_dir()) / "dev-issuer.pem"
        if not path.exists():
            _write_new_key(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")
        return cls(key)

    def public_pem(self) -> str:
        """The verification key, PEM: what ``AUTH_PUBLIC_KEY`` takes."""
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def token(
        self,
        subject: str,
        scopes: Iterable[str] = (),
        *,
        ttl: float = 3600.0,
        **claims: Any,
    ) -> str:
        """A signed JWT for ``subject`` with ``scopes`` (space-separated ``scope`` claim).

        ``claims`` override or add any claim (``iss``, ``aud``, ``exp``…), so tests can make
        expired or foreign tokens through the same code.
        """
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "scope": " ".join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + int(ttl),
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def settings(self) -> dict[str, str]:
        """The environment a service needs to trust this issuer (``AUTH_*`` variables)."""
        return {
            "AUTH_ISSUER": self.issuer,
            "AUTH_AUDIENCE": self.audience,
            "AUTH_PUBLIC_KEY": self.public_pem(),
        }


def _write_new_key(path: Path) -> None:
    """Write a new key atomically, readable by its owner only; a concurrent writer's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    try:
        os.link(partial, path)  # fails if another process made the key first: keep theirs
    except FileExistsError:
        pass
    finally:
        partial.unlink()
