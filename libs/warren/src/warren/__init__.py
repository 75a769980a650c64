"""Warren, the platform: typed events on RabbitMQ with retries, DLQs, outbox, inbox and tracing.

Layered bottom to top: ``telemetry`` < ``db`` < ``messaging`` < ``runtime`` < ``cli``; ``testing``
sits on top for test suites. Import the subpackages, never their ``_``-modules.
"""
