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
- **warren traced 10%**: the same, with `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and
  `OTEL_TRACES_SAMPLER_ARG=0.1`, the production setting the README recommends: one trace in ten
  is recorded whole; the others cost a non-recording span and a propagated `traceparent`.
- **warren inbox+outbox**: the handler runs through `warren.runtime.Writer.consume` on a fresh
  PostgreSQL database: inbox row and one outbox row committed before the ack (no relay running).
- **The saga**: `warren.runtime.suite.Suite` runs the four services as processes on their own
  vhost and databases, with the settings of `make run` except stock and payment limits large
  enough that every order is confirmed. Orders go in over HTTP; a tap (`bench/tap.py`) sees
  every event on the wire. Paced: open loop at 50/s, then at 100/s (each for the same time;
  every order is waited for). Saturation: a closed loop of customers, each ordering again as
  soon as the last order is confirmed; CPU per order is each process's CPU over the phase
  divided by the orders confirmed in it. Per-hop times come from the CloudEvents `time` each
  service writes in the step's transaction; the last hop is the orders relay's lag.
- **Before and after** (issue 16): "before" is the tree of a fixed commit (`bench/baseline.py`,
  `--saga-baseline`), extracted with `git archive` into a temporary folder; its services run with
  that tree's source roots first on `PYTHONPATH`, in front of the venv's editable installs, and
  each reports the files it imported (`warren.__file__` and the rest), checked against the tree.
  The load generator, tap and measurements are this tree's. Rounds alternate the order (before
  then after, after then before, …); each run is a process of its own with a fresh vhost and
  databases; the tables give medians per contender.
- **Statements and commits per order**: after the timed phases of each contender's first run, a
  pass of its own at 20 orders/s. A `sitecustomize` the bench puts on the services' path
  (`bench/service_site`) adds an asyncpg query logger to every connection (pool, relay, LISTEN)
  on a signal, and writes the counts by step (the consumed event, the HTTP route, the own
  connections, the rest) and kind (first keyword and main table) on another. `BEGIN`/`COMMIT`
  of `conn.transaction()` go through the same logger. Commits are counted twice: by the
  services (`COMMIT`s and statements outside a transaction) and by the server
  (`pg_stat_database.xact_commit` of each service's database, read after 10.5 s of quiet, since
  PostgreSQL publishes an idle backend's counts within 10 s, and after a statement on each
  LISTEN connection, which publishes only then). The server's count is higher by the
  transaction PostgreSQL runs for each batch of notifications a LISTEN connection reads. The
  background while idle (relay polls, deadline sweeps) is measured first and taken off.
- **The outbox relay**: rows written first and a relay timed draining them (rows/s); then, with
  the relay running, rows written by `Writer.execute` at fixed rates, lag = tap receive - commit.
"""

TARGET_NOTES = """\
How to read the verdicts: throughput ratios move between rounds on two shared cores, so a *met*
on throughput alone is weak evidence; the last column applies the same ratio to CPU per message,
the steadier measure. Without tracing warren costs about the CPU per message of raw aio-pika
(0.80-0.96x publishing, 0.88-1.02x consuming, 0.96x end to end in the runs of issue 8), because it
publishes and consumes on aiormq directly instead of through aio-pika's per-message objects. In
the run of 2026-12-06 consuming was 0.81-0.90x and end to end 1.08x, but publishing 1.47x: its
rounds spread from 4,068 to 6,933 msgs/s (the second above aio-pika's best), and none of that
run's changes touches the publish path. The misses, and
what bounds each (details below):

- **publish / FastStream ≥ 1.3**: FastStream 0.7.8's publisher is as fast as raw aio-pika on
  this machine (0.72-1.04x; the issue measured 0.69-0.84x), so 1.3x FastStream means 1.3x the raw
  client. What is left in a warren publish is aiormq's `basic_publish` and pamqp's frame
  marshalling (about two thirds of the client's CPU, `bench/profiles/warren-publish.txt`).
- **consume prefetch 1 / FastStream** by rate: prefetch 1 waits a round trip per message (client
  CPU 34-45 %), so the rate measures the broker's round trip more than the client; by CPU per
  message warren is 1.6x FastStream.
- **tracing on ≥ 0.75x raw**: a recording span costs 17-27 µs to start and end in the SDK
  (`_Span`, `BoundedAttributes`, context), two per message end to end, plus exporting. Warren's
  own OTLP encoder cut the exporter's encoding from ~50-76 to ~14-17 µs per span, which took
  traced consume from 0.47-0.54x to 0.60-0.75x and traced publish from 0.47x to 0.5-0.57x, but the
  rest is the SDK's span lifecycle and the export thread contending for the GIL with the loop.
- **traced p99 at 1,000 msgs/s**: the batch exporter encodes and posts 512 spans at a time in a
  thread; while it holds the GIL the loop waits, which shows as tens of ms in the tail.
- **traced 10% ≥ 0.75x**: the issue asks it of *untraced* warren; against warren in the same
  run the recommended sampler keeps 0.84x (publish), 0.83x (consume) and 0.91x (end to end) of
  the throughput, 0.83-0.91x by CPU per message; every span recorded keeps 0.56-0.66x of it
  (0.59-0.67x by CPU). The rows above compare with raw aio-pika, a stricter bar.
- **the saga at 150 orders/s**: not reached on two cores: 141.8 orders/s (rounds 125.5, 149.2,
  141.8) at 13.4 ms of CPU per order, the machine 1.91 cores busy. "The saga: before and after"
  and the findings below give the floor per process and per step, and what would move it.
  **p99 < 500 ms at 100/s**: met in the median (386 ms; rounds 5,163, 386 and 197 ms — the first
  round was a slow spell of the machine, in which "before" also did worst).
"""

FINDINGS = """\
## What bounds the saga, and what was done (issue 16, 2026-12-06)

Written by hand from the run above (three interleaved rounds of before and after), the
statement counts, `bench/profiles/saga-*.txt` (the "after" tree) and shorter side-by-side runs
made while the work was done. The run measured commit `37793dc`; its "with uncommitted
changes" was the bench's own profiles, which a run rewrites before the saga starts (the check
now ignores them). In the order of what each bought:

1. **The bus outbox** (`warren.messaging.dispatcher`): the process that commits a unit of work
   publishes its events right after the commit and marks them sent in batches; the relay only
   takes what that cannot (a row behind an unsent one of its aggregate, a refused publish, the
   rows of a process that died, once their reservation lapses). Per event that removed a relay
   round (BEGIN, claim, UPDATE, COMMIT) and a NOTIFY: 53 -> 41 statements and 14 -> 10 server
   transactions per order at 20 orders/s. Every guarantee held (`make chaos`: nothing lost,
   stuck or done twice; recovery after a SIGKILL 2.3-2.8 s).
2. **Generic plans** for the services' prepared statements (`plan_cache_mode`): PostgreSQL
   re-planned the outbox append on every execution (its per-aggregate probe never made the
   generic plan look cheaper): ~300 µs of server CPU more per execution, side by side. With
   it, one round: 23.4 against 26.9 ms of CPU per order before the issue.
3. **Group commit** (`COMMIT_GROUP`, `warren.runtime.Writer`): deliveries that wait together
   share one transaction — one inbox statement, each handler in turn, one outbox statement, one
   commit — each keeping its guarantees (a failing handler fails alone). One group in flight per
   service: with two, groups locked aggregates in two orders at once, waited for each other and
   could deadlock (the last hop's p99 was 1.5 s). At 80 orders/s: 42 -> 27 statements and
   11.3 -> 6.0 server transactions per order.
4. **`PREFETCH` 32** (was 10): the deliveries that wait are what makes a group. At 10 the
   orders writer's groups stayed near 5 (a per-group log: mean 4.9, never more than 8 waiting)
   and it was busy for the whole of every second at 100 orders/s, so any stall became seconds of
   backlog (p99 1.5-2 s in two of four short runs). A waiting delivery holds no connection.
5. **The orders store buffers its moves** and writes a group's in one statement at the end
   (`flush()`, which the `Writer` awaits once per transaction; the group's steps share one
   store): a reply was two statements, now one plus a share of one. Since one group is in
   flight per service, every statement saved shortens the wait of everything queued behind it:
   in the run before this change the whole p99 at 100/s sat in payment.captured ->
   order.confirmed (517 ms of 649); in this run that hop's p99 is 224 ms.
6. Smaller: a saga reply locks a free order and reads its history in one statement (`SKIP
   LOCKED`, the long way only when someone holds it); a charge reads its payment and an earlier
   cancellation at once; a verified bearer token is remembered until it expires (its signature
   check was ~5 % of the orders process); a sampled-out unit of work runs its queries
   uninstrumented.

Measured and not taken: BEGIN and the inbox insert as one simple-protocol message (literal SQL,
injection-proof hex) cost the server *more* (80-87 µs against 50-53 µs per transaction: an
unprepared statement is parsed and planned every time); uvicorn's httptools instead of h11 (h11
bounds headers) showed no difference in the orders process's share within one run's noise.

**What bounds the saga now.** CPU: the whole order costs 13.4 ms of CPU in this run (21.0
before), and at saturation the machine is 1.91 cores busy, so ~140-150 orders/s; 150 orders/s
with headroom needs ~12 ms. The same code measured 16-22 ms per order on slower days of this
shared machine (an earlier run of this file: 21.7), so the rate moves with the neighbours.
Per order, after: orders 3.4 ms (an HTTP POST with JWT and pricing, two deliveries, two
publishes), PostgreSQL 2.7, RabbitMQ 2.3 (four confirmed publishes into quorum queues, five
deliveries and the bench's own tap), payments 1.4, inventory 1.3, the load generator 1.0,
notifications 0.8. Group commit adapts to load: on a quieter machine the counting pass at 80/s
waits less, so it groups less (31.8 statements and 8.2 commits per order in this run, 26.8 and
6.0 in a slower run), while at saturation the groups fill. In payments' profile (one delivery,
one publish per order) about two fifths of the busy samples are asyncpg round trips, a third
aiormq and pamqp (publish frames, confirms, deliveries, acks) and the rest consuming and the
handler; orders adds the HTTP edge.
Round trips are no longer most of it; what would move the floor:

- **more cores** — what the design scales by: every step is a competing consumer, so replicas
  of each service and a RabbitMQ cluster add capacity (the 3-node cluster chaos run shows the
  suite on one);
- a cheaper AMQP client path (precomputed frames per exchange and routing key, a C codec) —
  aiormq and pamqp are now the largest Python cost per message;
- group commit for HTTP writes too (POSTs that wait together), and marks written less often;
- fewer processes per core: on this machine seven processes share two cores, and each wake-up
  of one costs the others.

## What bounds messaging, and what was done (issue 8, 2026-11-23)

Written by hand from `bench/profiles/`, the *CPU per step* table and the runs above. Done in
this round, in the order of what it bought:

1. **Below aio-pika's per-message objects.** `Broker.send` calls aiormq's `basic_publish` on the
   robust channel's current underlying channel with `pamqp` properties built once (0.9 µs against
   10 µs for an `aio_pika.Message`); the `Consumer` subscribes on the underlying channel, so a
   delivery costs one task and no `aio_pika.IncomingMessage` (14 µs + a second task). The robust
   channel still reconnects and restores queue and prefetch; the consumer subscribes again after
   each reopen and after a broker cancel once its queue is back (tested). Interleaved runs on
   this machine before and after: publish 0.59x -> 1.04x raw, consume (prefetch 100) 0.82x ->
   1.46x; this run 1.11x and 1.11x.
2. **One-pass decoding**: the event is validated straight into a typed envelope chosen by the AMQP
   `type` property (`warren.contracts.envelope.decode_as`, 7.8 µs against 10.9 µs); anything else
   falls back to the strict path, which names the problem for the DLQ headers.
3. **No no-op spans**: with no tracer provider installed nothing makes spans or asks the
   propagators; a traceparent a message carries is still passed on.
4. **OTLP encoding** (`warren.telemetry._otlp`): the wire format written directly, byte for byte
   what OpenTelemetry's encoder writes (tested against it), 14-17 µs per span instead of 50-76.
5. **The saga** (from ~37-52 to ~88 orders/s at saturation; p99 at 50/s from 0.8-21 s to 0.2-0.8 s
   over several runs, 217 ms in this one): asyncpg
   instrumented only when spans are recorded; no reset round trip when a pooled connection is
   given back; orders and inventory write a step's rows in one statement each; the outbox relay
   claims again at once only when rows may wait and commits its "sent" marks without waiting for
   the WAL flush (a lost mark only means a re-publish, which inboxes absorb); the load generator
   posts through a lean keep-alive HTTP/1.1 client on uvloop (6.3 -> 1.4 ms CPU per order).

**What bounds messaging now.** aiormq and pamqp: per publish, `basic_publish` (a lock, a
confirm future, a timeout context) and pamqp's property and method marshalling are about two
thirds of the client's CPU; per delivery, frame parsing and the delivery task. Going further means
precomputed frames for a fixed exchange and routing key, or a C codec — work in the client
library, not in warren.

**What bounds tracing.** The SDK's span lifecycle (start, attributes, end, processor) and the
batch exporter's thread. Sampling is measured beside it (`warren traced 10%`); the target rows
for `warren traced` keep every span recorded. Not taken: fewer attributes (the messaging semantic
conventions are what Jaeger users search by).
"""

FOOTER = """\
## Re-running

```sh
make bench                                  # everything (~20 min), writes bench/RESULTS.md
.venv/bin/python -m bench --quick           # smoke test (~4 min)
.venv/bin/python -m bench --only messaging --rounds 5 --no-uvloop
.venv/bin/python -m bench --only saga --rounds 5          # the saga, before and after
.venv/bin/python -m bench --only saga --saga-baseline none --saga-rates 50 --saga-prefetch 64
.venv/bin/python -m bench --only saga --saga-baseline main --rounds 1 --saga-seconds 5
.venv/bin/python -m bench --queue-type classic   # how much is the quorum queue's disk
.venv/bin/python -m bench --only saga --profile-services   # pyinstrument in every service ("after")
```

Raw results of the last run are in `bench/results/latest.json` (quick runs: `quick.json`);
pyinstrument profiles of the hot paths in `bench/profiles/`.
"""
