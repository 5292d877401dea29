"""The ``oms-worker`` command line: run | check-config | setup | dlq | health | schema | demo.

Exit codes: 0 success, 1 a check or command failed (one line ``error: ...``, never a traceback), 2 bad
configuration or usage. ``--config`` falls back to the ``OMS_WORKER_CONFIG`` environment variable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from worker.config import Config
from worker.config_load import load_config, redacted
from worker.errors import ConfigError, OmsWorkerError, ServiceError
from worker.logging import REDACTOR
from worker.metrics import package_version
from worker.store import QUEUES

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
CONFIG_ENV = "OMS_WORKER_CONFIG"
EPILOG = f"""environment:
  {CONFIG_ENV}  the YAML configuration used when --config is not given

exit codes: 0 success, 1 a check or command failed, 2 bad configuration or usage"""
RAW = argparse.RawDescriptionHelpFormatter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oms-worker", formatter_class=RAW, epilog=EPILOG,
        description="Integration worker between Salesforce Order Management and a Retail Cloud POS.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do (oms-worker COMMAND --help tells more)")

    def command(parent: Any, name: str, text: str, *, config: bool = True) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                                                       epilog=EPILOG, formatter_class=RAW)
        p.set_defaults(subparser=p, needs_config=config)
        if config:
            p.add_argument("--config", "-c", metavar="FILE", help=f"the YAML configuration (default: ${CONFIG_ENV})")
        return p

    command(sub, "run", "run the worker until SIGTERM")
    check = command(sub, "check-config", "validate and print the effective configuration, secrets redacted")
    check.add_argument("--live", action="store_true", help="also log in to Salesforce and the POS and check them")
    check.add_argument("--format", choices=["yaml", "json"], default="yaml",
                       help="output format of the effective configuration (default: yaml)")
    setup = command(sub, "setup", "list the org records a first sale needs and what is missing")
    setup.add_argument("--apply", action="store_true", help="create the missing ones (never payment gateways)")
    dlq = sub.add_parser("dlq", help="inspect and act on dead letters", description="Inspect and act on dead letters.")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION", help="what to do")
    json_help = "print JSON instead of text"
    listing = command(dlq_sub, "list", "list dead letters (id, queue, attempts, dead since, last error)")
    listing.add_argument("--queue", choices=QUEUES, help="only this queue's")
    listing.add_argument("--limit", type=int, default=1000, metavar="N", help="list at most N (default: 1000)")
    listing.add_argument("--json", action="store_true", help=json_help)
    show = command(dlq_sub, "show", "show one dead letter with its payload and full last error")
    show.add_argument("job_id", type=int, metavar="ID", help="the dead letter's id (from dlq list)")
    show.add_argument("--json", action="store_true", help=json_help)
    for name, what in (("retry", "queue dead letters again (attempts reset)"), ("drop", "delete dead letters")):
        act = command(dlq_sub, name, f"{what}: one by ID, one queue's (--queue) or all (--all)")
        act.add_argument("job_id", type=int, nargs="?", metavar="ID", help="the dead letter's id (from dlq list)")
        act.add_argument("--queue", choices=QUEUES, help="every dead letter of this queue")
        act.add_argument("--all", action="store_true", help="every dead letter of every queue")
        act.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
        act.add_argument("--json", action="store_true", help=json_help)
    health = command(sub, "health", "exit 0 when the local worker answers /healthz (Docker HEALTHCHECK)",
                     config=False)
    health.add_argument("--url", default="http://127.0.0.1:8080/healthz",
                        help="the liveness URL (default: %(default)s)")
    health.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="give up after this long (default: %(default)s)")
    health.add_argument("--json", action="store_true", help="print the answer as JSON")
    command(sub, "schema", "print the configuration's JSON Schema (config/worker.schema.json)", config=False)
    demo = command(sub, "demo", "run the emulators and the worker through a scripted store day", config=False)
    demo.add_argument("--workdir", default=".demo", metavar="DIR", help="working directory (default: %(default)s)")
    demo.add_argument("--pos", choices=["retail_cloud", "graphql"], default="retail_cloud",
                      help="the POS back-end to run the day on (default: %(default)s)")
    return parser


def _complete(args: argparse.Namespace) -> None:
    """Usage checks argparse cannot express; each ends the program with exit code 2 and the usage line."""
    parser: argparse.ArgumentParser = args.subparser
    if args.needs_config and not args.config:
        args.config = os.environ.get(CONFIG_ENV) or parser.error(f"--config is required (or set {CONFIG_ENV})")
    if getattr(args, "dlq_command", None) in ("retry", "drop"):
        if sum((args.job_id is not None, args.queue is not None, args.all)) != 1:
            parser.error("name exactly one of: a dead letter ID, --queue QUEUE, --all")
        if args.dry_run and args.job_id is not None:
            parser.error("--dry-run goes with --queue or --all")


def _load(path: str) -> Config:
    config = load_config(path)
    REDACTOR.add(config.secret_values())  # so no error message below can show a configured secret
    return config


def _check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.live:  # the result table only (the effective config is what check-config without --live prints)
        from worker.live_check import check_live

        return check_live(config)
    effective = redacted(config)
    if args.format == "json":
        print(json.dumps(effective, indent=2, default=str))
    else:
        print(yaml.safe_dump(effective, sort_keys=False, default_flow_style=False), end="")
    print("# configuration is valid", file=sys.stderr)
    return EXIT_OK


def _setup(args: argparse.Namespace) -> int:
    from worker.setup_check import setup_command

    return setup_command(_load(args.config), apply=args.apply)


def _health(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    status: int | None = None
    body: Any = None
    error: str | None = None
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout) as response:
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:  # 503: a stuck loop; the body still says which
        status, text, error = exc.code, exc.read().decode("utf-8", "replace"), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        text, error = "", str(getattr(exc, "reason", None) or exc)
    healthy = status == 200
    if args.json:
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        print(json.dumps({"url": args.url, "healthy": healthy, "status": status, "error": error, "body": body}))
    elif error:
        print(f"unhealthy: {error}", file=sys.stderr)
    return EXIT_OK if healthy else EXIT_FAILED


def _dlq(args: argparse.Namespace) -> int:
    from worker.dlq import run_dlq

    return int(asyncio.run(run_dlq(_load(args.config), args)))


def _run(args: argparse.Namespace) -> int:
    from worker.app import run_worker

    return int(run_worker(_load(args.config)))


def _schema(args: argparse.Namespace) -> int:
    from worker.config_schema import render_schema

    print(render_schema(), end="")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return int(run_demo(args.workdir, args.pos))


COMMANDS: dict[str, Any] = {
    "check-config": _check_config, "setup": _setup, "health": _health, "dlq": _dlq, "run": _run, "demo": _demo,
    "schema": _schema,
}


def one_line(exc: BaseException) -> str:
    """An unexpected failure as one safe line: the first leaf of a group, no newlines, configured secrets masked."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join((exc.describe() if isinstance(exc, ServiceError) else str(exc)).split())
    if not isinstance(exc, OmsWorkerError | ConnectionError) or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    scrubbed: str = REDACTOR.scrub(text)
    return scrubbed[:500]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _complete(args)
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
    except Exception as exc:  # the last line of defence: no command ever ends in a traceback
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
