"""The prose around the tables of ``bench/RESULTS.md``: how it was measured, how to read it.

Text only; ``bench.__main__`` fills in the run's facts.
"""

HEADER = """\
# Benchmarks — results

Written by `make bench` (`python -m bench`); mode: **{mode}**, {when}, took {minutes:.1f} min.
Load average at start **{load}**, at end {load_end} (1, 5, 15 min).

> **Read with care.** A 2-core machine: the client, the broker (and for the saga PostgreSQL and
> four services) share two cores, so rates move between rounds and ratios carry that noise. Where
> the rates disagree between rounds, the CPU time per message (µs/msg, the client process's own
> CPU) is the steadier measure of what each layer costs: the client's CPU is the bottleneck and
> throughput ≈ 1 / (CPU per message).

## How it is measured

- **One message for everyone**: `order.placed.v1` with 4 lines in a CloudEvents 1.0 structured
  envelope (~600 bytes), persistent, `mandatory`, publisher confirms, to `orders.events`, routed to
  the quorum queue `bench.orders` declared by warren's own topology code. Raw aio-pika and
  FastStream build the envelope with orjson (`bench/workload.py`), warren with `Broker.publish`
  (`prepare`); all of them build it per message, with a fresh id and time.
- **Consuming** validates into the contract model with manual acks after the handler: raw
  aio-pika with one `model_validate_json` into a typed envelope, FastStream with a typed handler
  parameter (`AckPolicy.ACK`), warren with a `Consumer` and a `WorkQueue` handler table.
- **Publish**: 200 concurrent publishers, i.e. 200 confirms in flight. **Consume**: the queue is
  preloaded (untimed), timed from the first delivery to the last. **End to end**: one process
  publishes (200 in flight) and consumes (prefetch 100) on one connection. **Latency**: publishes
  paced at 1,000 msgs/s (open loop, a task per message), measured from the moment each message
  was *due* to the handler, so a stalled producer cannot hide its own delay; the first 0.5 s is
  warm-up. Every run warms up before its timed part.
- **Interleaved**: each round runs every case, rotating the contenders' order within a case; the
  tables give the median over rounds (and every round's rate). **Each run is its own process**
  (own tracer provider, event loop and GC). `client CPU` is the run process's CPU over the timed
  part (1.0 = one core), `broker CPU` is RabbitMQ's.
- **warren traced**: `warren.telemetry.configure_tracing` with `OTEL_EXPORTER_OTLP_ENDPOINT` set —
  a `TracerProvider`, `BatchSpanProcessor` and the OTLP/HTTP exporter — exporting to a local
  receiver started by the bench that accepts and discards (`bench/receiver.py`).
- **warren inbox+outbox**: the handler runs through `warren.runtime.Writer.consume` on a fresh
  PostgreSQL database: inbox row and one outbox row committed before the ack (no relay running).
- **The saga**: `warren.runtime.Suite` runs the four services as processes on their own vhost and
  databases, with the settings of `make run` except stock and payment limits large enough that
  every order is confirmed. Orders go in over HTTP; a tap (`bench/tap.py`) sees every event on the
  wire. Paced: open loop at 20/s, then at the target's 50/s (each for the same time; every
  order is waited for). Saturation: a closed loop of customers, each
  ordering again as soon as the last order is confirmed. Per-hop times come from the CloudEvents
  `time` each service writes in the step's transaction; the last hop is the orders relay's lag.
- **The outbox relay**: rows written first and a relay timed draining them (rows/s); then, with
  the relay running, rows written by `Writer.execute` at fixed rates, lag = tap receive - commit.
"""

TARGET_NOTES = """\
How to read the verdicts: throughput ratios move between rounds on two shared cores, so a *met*
on throughput alone is weak evidence; the last column applies the same ratio to CPU per message,
the steadier measure. By it warren costs about 1.1-1.3x raw aio-pika per message without tracing
(publish 1.24x, consume 1.12-1.33x) — in FastStream's range, not yet the 0.90 / 1.3x-FastStream
targets — and about 2.1-2.2x with tracing recording every span. The 1,000 msgs/s latency case is
not meaningful here: even raw aio-pika did not sustain 1,000 msgs/s end to end on this machine, so
its percentiles are queueing delay, not latency. The saga's capacity on two cores shared by seven
processes is below the 50/s offered rate, hence seconds of queueing at 50/s; see the saga table
for the lower paced rate.
"""

FINDINGS = """\
## What bounds it, and what to change (profiles of 2026-11-23)

Written by hand from `bench/profiles/` and the *CPU per step* table; re-check after changes.
Already applied before the run above: the relay's own connection and `PREFETCH` 10 ≤ `POOL_SIZE`
(item 6), the envelope written straight from the event (`contracts.envelope.serialize`, half the
cost of building and validating an `Envelope`), the AMQP message built once, async HTTP
dependencies. The rest is the plan for the next round.
The client's CPU per message is what separates the contenders: the broker and PostgreSQL are
well below a core in every messaging run. Ranked by expected gain:

1. **Building the envelope** (`warren.messaging.prepare` → `contracts.envelope.wrap`/`encode`):
   a validated `Envelope` model is built (re-validating the `data` dict) and then dumped: ~37 µs
   per message against ~7-12 µs for the same bytes with orjson. Write the body directly (orjson
   over `event.model_dump(mode="json")`, or splice the event's own JSON into a prefix) and keep
   `Envelope` for decoding. ≈ +10 % publish throughput.
2. **Transport below warren** (`OutgoingMessage.to_amqp` + `amqp.headers = ...` in
   `Broker.send`): `aio_pika.Message.__init__`/`__setattr__` cost ~11-12 µs a message and the
   headers are converted twice. Pass the injected headers to the constructor once; further, publish
   through the robust channel's aiormq channel with prebuilt `pamqp` properties. ≈ +3-6 %.
3. **Consumer decoding** (`Consumer._decode`): two passes (envelope with `data: dict[str, Any]`,
   then `model_validate` of the dict) cost ~12-24 µs; one `model_validate_json` into an envelope
   whose `data` is the event class costs ~8-16 µs. Cache one typed envelope model per event type
   (chosen by the AMQP `type` property, falling back to today's path) and map a `data.*` error to
   `SchemaViolation`, any other to `MalformedMessage`. ≈ +2-3 % consume.
4. **Per-message context managers when tracing is off**: a no-op `start_as_current_span` costs
   4-10 µs (publish and consume each), `structlog.contextvars.bound_contextvars` 6-11 µs per
   delivery. Skip span + extract when the global provider is the no-op one; bind log context with
   `bind_contextvars`/`reset_contextvars` tokens (or one `ContextVar`). ≈ +3-5 % consume.
5. **Tracing on** costs +50-60 % CPU per message: span creation (~20-40 µs each, two per
   end-to-end message), `inject` inside a recording span (~27-49 µs, done twice on a direct
   `Broker.publish`: in `prepare` and again in `send`), and the batch exporter's thread (protobuf
   encoding + HTTP, invisible in the main-thread profiles but in `client CPU`). Inject once in
   `send` for direct publishes; keep attributes to the semantic-convention set.
6. **The saga: the outbox relay queues for a pooled connection.** Past capacity, the hop
   "order.confirmed written -> on the wire" (nothing but the orders relay's lag) grows to seconds
   (p50 11 s at 50/s offered) while the same relay alone on its database lags 3 ms (outbox table):
   `OutboxRelay.relay_once` takes its transaction from the service's pool (10 connections), where
   it waits behind up to `PREFETCH` (32) handler units of work and every `POST /orders`. Give the
   relay (and the LISTEN) a connection of its own, and keep `PREFETCH` at or below `POOL_SIZE`
   by default, so backlog queues in RabbitMQ (visible, bounded) rather than in the pool.
7. **The saga: CPU per order.** Seven processes share two cores; this run confirmed ~30 orders/s
   at saturation with the machine at 2.0 busy cores. Per order: four outbox rows (claim, publish,
   mark sent), five units of work of about eight SQL round trips each (BEGIN, inbox, load, save,
   history, outbox, COMMIT, pool reset), one HTTP request. The service profiles
   (`bench/profiles/saga-*.txt`, from a `--quick --profile-services` run) show per unit of work:
   asyncpg's **reset on release** (an extra round trip, ~10 % of a unit of work in inventory: pass
   a no-op `reset=` to `asyncpg.create_pool`, safe because the only session state is the
   migrations' transaction-scoped advisory lock), the **asyncpg and FastAPI instrumentation**
   wrapping every query and request even when nothing is exported (instrument only when an
   exporter is configured), and FastAPI running the sync `store`/`writer` dependencies of
   `warren.runtime` in a **threadpool** on every request (~14 % of the request in orders: make
   them `async def`). Reaching 150 orders/s on two cores means ~13 ms of CPU per order for the
   whole system; today it is several times that, so the target needs all of the above and likely
   fewer round trips per unit of work (one statement for inbox + outbox, a single load query).
"""

FOOTER = """\
## Re-running

```sh
make bench                                  # everything (~10 min), writes bench/RESULTS.md
.venv/bin/python -m bench --quick           # smoke test (~2 min)
.venv/bin/python -m bench --only messaging --rounds 5 --no-uvloop
.venv/bin/python -m bench --only saga --saga-rate 50 --saga-concurrency 64 --saga-prefetch 64
.venv/bin/python -m bench --queue-type classic   # how much is the quorum queue's disk
.venv/bin/python -m bench --only saga --profile-services   # pyinstrument in every service
```

Raw results of the last run are in `bench/results/latest.json` (quick runs: `quick.json`);
pyinstrument profiles of the hot paths in `bench/profiles/`.
"""
