"""``warren token``: a signed bearer token from the local development issuer.

Owns the command only; the issuer (its key made on first use under the user's state folder,
mode 0600) is ``runtime.Issuer``. Services in development trust it by default; production
services refuse it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from warren.cli._app import app
from warren.runtime import Issuer


@app.command()
def token(
    customer: Annotated[str, typer.Option(help="the token's subject (sub): the customer id")] = "",
    scope: Annotated[
        list[str] | None,
        typer.Option(help="a scope to grant (repeat), e.g. orders:write, orders:read"),
    ] = None,
    ttl: Annotated[float, typer.Option(help="seconds until it expires")] = 3600.0,
    public_key: Annotated[
        bool, typer.Option("--public-key", help="print the issuer's public key (AUTH_PUBLIC_KEY)")
    ] = False,
) -> None:
    """Print a development JWT for CUSTOMER with the given scopes.

    Example: [bold]warren token --customer alice --scope orders:write --scope orders:read[/bold]
    """
    issuer = Issuer.development()
    if public_key:
        typer.echo(issuer.public_pem(), nl=False)
        return
    if not customer:
        raise typer.BadParameter("name the customer: --customer alice", param_hint="--customer")
    typer.echo(issuer.token(customer, scope or (), ttl=ttl))
