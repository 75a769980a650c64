"""Warren's benchmarks: warren beside raw aio-pika and FastStream, the saga, the outbox relay.

``python -m bench`` (or ``make bench``) runs them all and writes ``bench/RESULTS.md``. Each
measurement runs in its own subprocess; nothing here is imported by the platform or the services.
"""
