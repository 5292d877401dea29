"""``oms-worker`` command line: run | check-config | dlq | health | demo.

Exit codes: 0 success, 1 a check or command failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from worker.config import Config
from worker.config_load import load_config, redacted
from worker.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms-worker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", "-c", required=True, help="path to the YAML configuration")
        return p

    with_config(sub.add_parser("run", help="run the worker until SIGTERM"))
    check = with_config(sub.add_parser("check-config", help="validate and print the effective config (redacted)"))
    check.add_argument("--live", action="store_true", help="also log in to Salesforce and the POS and check them")
    check.add_argument("--format", choices=["yaml", "json"], default="yaml")
    dlq = sub.add_parser("dlq", help="inspect and act on dead letters")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    with_config(dlq_sub.add_parser("list", help="list dead letters")).add_argument("--queue")
    for name in ("show", "retry", "drop"):
        with_config(dlq_sub.add_parser(name, help=f"{name} one dead letter")).add_argument("job_id", type=int)
    health = sub.add_parser("health", help="exit 0 when the local worker answers /healthz (Docker HEALTHCHECK)")
    health.add_argument("--url", default="http://127.0.0.1:8080/healthz")
    health.add_argument("--timeout", type=float, default=3.0)
    demo = sub.add_parser("demo", help="run the emulators and the worker through a scripted store day")
    demo.add_argument("--workdir", default=".demo")
    return parser


def _load(path: str) -> Config:
    return load_config(path)


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    effective = redacted(config)
    if args.format == "json":
        print(json.dumps(effective, indent=2, default=str))
    else:
        print(yaml.safe_dump(effective, sort_keys=False, default_flow_style=False), end="")
    if not args.live:
        print("# configuration is valid", file=sys.stderr)
        return EXIT_OK
    from worker.live_check import run_live_checks

    return int(asyncio.run(run_live_checks(config)))


def _health(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            return EXIT_OK if response.status == 200 else EXIT_FAILED
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _dlq(args: argparse.Namespace) -> int:
    from worker.dlq import run_dlq

    return int(asyncio.run(run_dlq(_load(args.config), args.dlq_command, args)))


def _run(args: argparse.Namespace) -> int:
    from worker.app import run_worker

    return int(run_worker(_load(args.config)))


def _demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return int(run_demo(args.workdir))


COMMANDS: dict[str, Any] = {
    "check-config": _check_config, "health": _health, "dlq": _dlq, "run": _run, "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = COMMANDS[args.command](args)
        return code
    except ConfigError as exc:
        print("configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
