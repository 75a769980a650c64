"""``python -m bench``: run every benchmark, print the tables, write ``bench/RESULTS.md``.

The orchestrator: it makes the vhost, starts the local OTLP receiver, runs each measurement in its
own subprocess (round-robin over contenders, several rounds), then the saga before and after
(``bench.baseline``'s tree and this one, interleaved by round) and the outbox relay, and hands
the results to ``bench.report`` and ``bench.comparison``. ``--quick`` is a smoke run; ``--only``
picks sections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bench import baseline, comparison, document, machine, plan, report
from bench.receiver import OtlpReceiver
from warren.testing import fresh_vhost

HERE = Path(__file__).parent
SECTIONS = ("micro", "messaging", "profile", "saga", "outbox")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny runs, one round: a smoke test")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--rounds", type=int, help="rounds of the messaging cases and the saga")
    parser.add_argument("--no-uvloop", action="store_true", help="skip the uvloop cases")
    parser.add_argument("--queue-type", default="quorum", choices=("quorum", "classic"))
    parser.add_argument(
        "--saga-baseline",
        default=baseline.BASELINE,
        help="the commit the saga's 'before' runs ('none': only this tree)",
    )
    parser.add_argument(
        "--saga-rates", default="50,100", help="offered orders/s of the paced phases, in order"
    )
    parser.add_argument(
        "--saga-seconds", type=float, help="seconds of each paced phase and of saturation"
    )
    parser.add_argument(
        "--saga-accounting-seconds",
        type=float,
        help="seconds of the statement-counting pass (0: none)",
    )
    parser.add_argument(
        "--saga-accounting-load-rate",
        type=float,
        default=plan.SAGA_ACCOUNTING_LOAD_RATE,
        help="orders/s of a second counting pass near capacity (0: none)",
    )
    parser.add_argument("--saga-concurrency", type=int, default=48)
    parser.add_argument(
        "--saga-prefetch",
        type=int,
        default=0,
        help="PREFETCH of the services (default 0: each tree's own default, as it deploys)",
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
        results["saga"] = await saga(args, sizes, pid)
    if "outbox" in sections:
        _progress("  outbox relay")
        results["outbox"] = await subprocess_run("bench.outbox", _outbox_spec(args, sizes, pid))
    results["minutes"] = (time.monotonic() - started) / 60
    results["load_at_end"] = machine.facts()["load"]
    written = document.render(results, report.summarise(runs))
    print(written)
    args.output.write_text(written)
    raw = HERE / "results"
    raw.mkdir(exist_ok=True)
    (raw / ("quick.json" if args.quick else "latest.json")).write_text(
        json.dumps(results, indent=1, default=str)
    )
    _progress(f"bench: wrote {args.output} in {results['minutes']:.1f} min")


async def saga(args: argparse.Namespace, sizes: plan.Sizes, pid: int) -> dict[str, Any]:
    """The saga's contenders in rounds (before, after; then after, before; …), each run its own
    process with its own vhost and databases; the counting pass in each one's first run."""
    after = baseline.current()
    found: dict[str, Any] = {"current": {"commit": after.commit, "dirty": baseline.is_dirty()}}
    runs: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        trees = {comparison.AFTER: after}
        if args.saga_baseline.lower() != "none":
            before = stack.enter_context(baseline.checkout(args.saga_baseline))
            found["baseline"] = {"ref": args.saga_baseline, "commit": before.commit}
            trees = {comparison.BEFORE: before, **trees}
        count = args.rounds or sizes.rounds
        for number in range(1, count + 1):
            names = list(trees) if number % 2 else list(reversed(trees))
            for name in names:
                spec = _saga_spec(args, sizes, pid, name, trees[name], first=number == 1)
                runs.append(await _saga_run(f"round {number}/{count}", name, spec))
                runs[-1]["round"] = number
    found["runs"] = runs
    if args.profile_services:  # a run of its own: the profiler's cost stays out of the rounds
        spec = _saga_spec(args, sizes, pid, comparison.AFTER, after, first=False)
        spec["profile"] = str(HERE / "profiles")
        found["profiled"] = await _saga_run("profiled", comparison.AFTER, spec)
        if "error" not in found["profiled"]:
            found["profiles"] = [
                str(path.relative_to(HERE.parent))
                for path in sorted(HERE.glob("profiles/saga-*.txt"))
            ]
    return found


async def _saga_run(label: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    _progress(f"  saga {label}: {name}, starting the services")
    try:
        result = await subprocess_run("bench.saga", spec, 900)
    except RuntimeError as error:
        _progress(f"  saga {label}: {name} FAILED: {error}")
        return {"contender": name, "error": str(error)}
    paced = ", ".join(f"p99 at {p['offered']:.0f}/s {p['p99']:,.0f} ms" for p in result["paced"])
    _progress(
        f"  saga {label}: {name:<6} {result['saturation']['rate']:6.1f} orders/s at"
        f" saturation, {paced}"
    )
    return result


def _saga_spec(
    args: argparse.Namespace,
    sizes: plan.Sizes,
    pid: int,
    name: str,
    tree: baseline.Tree,
    *,
    first: bool,
) -> dict[str, Any]:
    counting = sizes.saga_accounting_seconds
    if args.saga_accounting_seconds is not None:
        counting = args.saga_accounting_seconds
    return {
        "amqp_url": args.amqp_url,
        "management_url": args.management_url,
        "database_url": args.database_url,
        "broker_pid": pid,
        "contender": name,
        "code_root": str(tree.root),
        # This tree runs as the venv installed it; another one from its own source roots.
        "pythonpath": "" if tree.root == baseline.REPOSITORY else tree.pythonpath,
        "services": list(tree.services),
        "modules": ["warren", tree.contracts, *tree.services],
        "rates": [float(r) for r in args.saga_rates.split(",") if r.strip()],
        "seconds": args.saga_seconds or sizes.saga_seconds,
        "concurrency": args.saga_concurrency,
        "saturation_seconds": args.saga_seconds or sizes.saga_saturation_seconds,
        "accounting_seconds": counting if first else 0.0,
        "accounting_rate": plan.SAGA_ACCOUNTING_RATE,
        "accounting_load_rate": args.saga_accounting_load_rate,
        "prefetch": args.saga_prefetch,
        "pool_size": args.saga_pool,
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


def rerender(args: argparse.Namespace) -> None:
    """Write RESULTS.md again from a saved ``results/*.json`` (after editing the report code)."""
    results = json.loads(args.render.read_text())
    runs = [(plan.Case(**r["case"]), r["result"]) for r in results.get("messaging", [])]
    args.output.write_text(document.render(results, report.summarise(runs)))


if __name__ == "__main__":
    parsed = arguments()
    if parsed.render:
        rerender(parsed)
    else:
        asyncio.run(main(parsed))
