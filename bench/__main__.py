"""``python -m bench``: run every benchmark, print the tables, write ``bench/RESULTS.md``.

The orchestrator: it makes the vhost, starts the local OTLP receiver, runs each measurement in its
own subprocess (round-robin over contenders, several rounds), then the saga and the outbox relay,
and hands the results to ``bench.report``. ``--quick`` is a smoke run; ``--only`` picks sections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bench import machine, plan, report
from bench.receiver import OtlpReceiver
from warren.testing import fresh_vhost

HERE = Path(__file__).parent
SECTIONS = ("micro", "messaging", "profile", "saga", "outbox")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny runs, one round: a smoke test")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--rounds", type=int, help="rounds of the messaging cases")
    parser.add_argument("--no-uvloop", action="store_true", help="skip the uvloop cases")
    parser.add_argument("--queue-type", default="quorum", choices=("quorum", "classic"))
    parser.add_argument("--saga-rate", type=float, default=50.0, help="offered orders/s")
    parser.add_argument(
        "--saga-lower-rates", default="20", help="paced phases run first (comma-separated)"
    )
    parser.add_argument("--saga-concurrency", type=int, default=48)
    parser.add_argument(
        "--saga-prefetch",
        type=int,
        default=10,
        help="PREFETCH of the services (default: as deployed)",
    )
    parser.add_argument("--saga-pool", type=int, default=10, help="POOL_SIZE of the services")
    parser.add_argument(
        "--profile-services", action="store_true", help="pyinstrument each saga service"
    )
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--management-url", default="http://127.0.0.1:15672")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--render", type=Path, help="only re-write --output from a saved results JSON"
    )
    return parser.parse_args(argv)


async def subprocess_run(module: str, spec: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run ``python -m module <spec>``; its RESULT line (raises with its stderr when it fails)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        json.dumps(spec),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"{module} timed out after {timeout:.0f} s") from None
    for line in out.decode().splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    raise RuntimeError(f"{module} failed ({process.returncode}): {err.decode()[-2000:]}")


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def messaging(args: argparse.Namespace, sizes: plan.Sizes, pid: int) -> list[report.Run]:
    """Every messaging case, round-robin, each in its own process, on one throwaway vhost."""
    runs: list[report.Run] = []
    schedule = plan.rounds(plan.cases(sizes, not args.no_uvloop), args.rounds or sizes.rounds)
    with OtlpReceiver() as receiver:
        async with fresh_vhost(args.amqp_url, args.management_url, prefix="warren-bench") as url:
            for number, cases in enumerate(schedule, 1):
                for case in cases:
                    spec = _spec(case, url, pid, args, receiver.endpoint)
                    try:
                        result = await subprocess_run("bench.messaging", spec)
                    except RuntimeError as error:
                        _progress(f"  round {number}: {case.group} / {case.name} FAILED: {error}")
                        continue
                    runs.append((case, result))
                    _progress(
                        f"  round {number}/{len(schedule)}  {case.group:<30} {case.name:<22}"
                        f" {result['rate']:>8,.0f} msgs/s  {result['cpu_us_per_msg']:>5,.0f} µs/msg"
                        + (f"  p99 {result['p99']:.1f} ms" if "p99" in result else "")
                    )
        _progress(f"  OTLP receiver: {receiver.requests} exports, {receiver.bytes:,} bytes")
    return runs


def _spec(
    case: plan.Case, url: str, pid: int, args: argparse.Namespace, otlp: str
) -> dict[str, Any]:
    options = dict(case.options)
    spec: dict[str, Any] = {
        "contender": case.contender,
        "scenario": case.scenario,
        "url": url,
        "broker_pid": pid,
        "queue_type": args.queue_type,
    }
    if options.pop("tracing", False):
        spec["tracing"] = otlp
    if options.pop("inbox", False):
        spec["inbox_database"] = args.database_url
    return spec | options


async def profiles(args: argparse.Namespace, sizes: plan.Sizes, pid: int) -> list[str]:
    """pyinstrument profiles of the hot paths (warren and raw, publish and consume)."""
    out = HERE / "profiles"
    out.mkdir(exist_ok=True)
    written = []
    wanted = [
        ("publish", plan.WARREN, {"count": sizes.publish}),
        ("publish", plan.RAW, {"count": sizes.publish}),
        ("consume", plan.WARREN, {"count": sizes.consume, "prefetch": 100}),
        ("consume", plan.RAW, {"count": sizes.consume, "prefetch": 100}),
        ("e2e", plan.WARREN, {"count": sizes.e2e, "tracing": True}),
    ]
    with OtlpReceiver() as receiver:
        async with fresh_vhost(args.amqp_url, args.management_url, prefix="warren-bench") as url:
            for scenario, contender, options in wanted:
                traced = "-traced" if options.get("tracing") else ""
                path = out / f"{contender}-{scenario}{traced}.txt"
                case = plan.Case("profile", scenario, contender, options=options)
                spec = _spec(case, url, pid, args, receiver.endpoint) | {"profile": str(path)}
                await subprocess_run("bench.messaging", spec)
                written.append(str(path.relative_to(HERE.parent)))
                _progress(f"  profile written: {path}")
    return written


async def main(args: argparse.Namespace) -> None:
    sizes = plan.QUICK if args.quick else plan.FULL
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    facts = machine.facts()
    parts = urlsplit(args.amqp_url)
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    versions = machine.versions(args.management_url, args.database_url, auth)
    pid = machine.broker_pid()
    started = time.monotonic()
    _progress(f"bench: {', '.join(sections)}; load average at start {facts['load']}")
    results: dict[str, Any] = {"facts": facts, "versions": versions, "quick": args.quick}
    runs: list[report.Run] = []
    if "micro" in sections:
        results["micro"] = await subprocess_run("bench.micro", {})
    if "messaging" in sections:
        runs = await messaging(args, sizes, pid)
        results["messaging"] = [{"case": c.__dict__, "result": r} for c, r in runs]
    if "profile" in sections:
        results["profiles"] = await profiles(args, sizes, pid)
    if "saga" in sections:
        _progress("  saga: starting the four services")
        results["saga"] = await subprocess_run("bench.saga", _saga_spec(args, sizes, pid), 900)
    if "outbox" in sections:
        _progress("  outbox relay")
        results["outbox"] = await subprocess_run("bench.outbox", _outbox_spec(args, sizes, pid))
    results["minutes"] = (time.monotonic() - started) / 60
    results["load_at_end"] = machine.facts()["load"]
    document = render(results, report.summarise(runs))
    print(document)
    args.output.write_text(document)
    raw = HERE / "results"
    raw.mkdir(exist_ok=True)
    (raw / ("quick.json" if args.quick else "latest.json")).write_text(
        json.dumps(results, indent=1, default=str)
    )
    _progress(f"bench: wrote {args.output} in {results['minutes']:.1f} min")


def _saga_spec(args: argparse.Namespace, sizes: plan.Sizes, pid: int) -> dict[str, Any]:
    return {
        "amqp_url": args.amqp_url,
        "management_url": args.management_url,
        "database_url": args.database_url,
        "broker_pid": pid,
        "rate": args.saga_rate,
        "lower_rates": [float(r) for r in args.saga_lower_rates.split(",") if r.strip()],
        "seconds": sizes.saga_seconds,
        "concurrency": args.saga_concurrency,
        "saturation_seconds": sizes.saga_saturation_seconds,
        "prefetch": args.saga_prefetch,
        "pool_size": args.saga_pool,
        "profile": str(HERE / "profiles") if args.profile_services else "",
    }


def _outbox_spec(args: argparse.Namespace, sizes: plan.Sizes, pid: int) -> dict[str, Any]:
    return {
        "amqp_url": args.amqp_url,
        "management_url": args.management_url,
        "database_url": args.database_url,
        "broker_pid": pid,
        "rows": sizes.outbox_rows,
        "seconds": sizes.outbox_seconds,
    }


def render(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """The whole of RESULTS.md."""
    from bench.notes import FINDINGS, FOOTER, HEADER, TARGET_NOTES

    facts = results["facts"]
    parts = [
        HEADER.format(
            mode="quick (smoke)" if results["quick"] else "full",
            when=facts["when"],
            load=facts["load"],
            load_end=results["load_at_end"],
            minutes=results["minutes"],
        ),
        "## Targets (issue 8)\n\n"
        + report.targets(summary, results.get("saga"), results.get("outbox"))
        + "\n\n"
        + TARGET_NOTES,
        "## Versions and machine\n\n" + report.versions_table(results["versions"], facts),
    ]
    if summary:
        parts.append(
            "## Messaging: raw aio-pika vs FastStream vs warren\n\n"
            + report.messaging_tables(summary)
        )
    if "micro" in results:
        parts.append(
            "## CPU per step, no broker (µs per message, best of 7)\n\n"
            + report.micro_table(results["micro"])
        )
    if "saga" in results:
        rerun = results.get("saga_rerun")
        note = f"Re-run on its own at {rerun['when']}, load {rerun['load']}.\n\n" if rerun else ""
        parts.append(
            "## The saga: four services as processes\n\n"
            + note
            + report.saga_tables(results["saga"])
        )
    if "outbox" in results:
        parts.append("## The outbox relay\n\n" + report.outbox_tables(results["outbox"]))
    if results.get("profiles"):
        parts.append("## Profiles\n\n" + "\n".join(f"- `{p}`" for p in results["profiles"]))
    parts += [FINDINGS, FOOTER]
    return "\n\n".join(parts) + "\n"


def rerender(args: argparse.Namespace) -> None:
    """Write RESULTS.md again from a saved ``results/*.json`` (after editing the report code)."""
    results = json.loads(args.render.read_text())
    runs = [(plan.Case(**r["case"]), r["result"]) for r in results.get("messaging", [])]
    args.output.write_text(render(results, report.summarise(runs)))


if __name__ == "__main__":
    parsed = arguments()
    if parsed.render:
        rerender(parsed)
    else:
        asyncio.run(main(parsed))
