"""The TLS files a server the tests start presents: its certificate and key, the CA it trusts.

Owns only the paths and whether clients must show a certificate; the servers
(``RabbitNode``, ``PostgresCluster``) turn them into their own configuration. Making the files
is the test's business (``trustme`` does it in a few lines), so nothing here creates keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerTLS:
    """A server certificate chain and key (PEM), the CA for client certificates, and the policy.

    With ``require_client_certificate`` the server refuses a client that shows no certificate
    signed by ``ca_file`` (RabbitMQ ``verify_peer`` + ``fail_if_no_peer_cert``, PostgreSQL
    ``clientcert=verify-full``). Either way a server with ``tls`` set accepts TLS only.
    """

    certificate_file: Path
    key_file: Path
    ca_file: Path
    require_client_certificate: bool = False
