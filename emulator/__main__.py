"""``python -m emulator``: run the Salesforce and POS emulators in one process until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from emulator.salesforce.app import SfEmulatorSettings, start_sf_emulator
from emulator.salesforce.cometd import CometdSettings
from emulator.salesforce.pubsub import PubSubSettings
from emulator.salesforce.scenario import SEEDS
from emulator.salesforce.tls import generate_self_signed, key_pair, server_context

_LOG = logging.getLogger("emulator")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    seeds = "; ".join(f"{name}: {text}" for name, (_, text) in SEEDS.items())
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sf-port", type=int, default=8081)
    parser.add_argument("--pos-port", type=int, default=8082)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a generated self-signed certificate")
    parser.add_argument("--state-file", default=None, help="persist the org here on restart/shutdown")
    parser.add_argument("--seed", default=None, choices=list(SEEDS),
                        help=f"load a built-in org at start (default: an empty org). {seeds}")
    parser.add_argument("--cometd-hold-seconds", type=float, default=110.0)
    parser.add_argument("--order-summary-flow", action="store_true",
                        help="the org runs a record-triggered flow creating an OrderSummary when an Order activates")
    parser.add_argument("--pubsub-port", type=int, default=0,
                        help="Pub/Sub API (gRPC) port; 0 (default): any free port, printed as pubsub_target")
    parser.add_argument("--pubsub-keepalive-seconds", type=float, default=270.0,
                        help="empty FetchResponse on a quiet Subscribe stream after this many seconds (default 270)")
    parser.add_argument("--no-pubsub", action="store_true", help="do not serve the Pub/Sub API")
    parser.add_argument("--pos-rate-limit", type=float, default=None,
                        help="POS requests per second before 429 (default 10; 0 disables)")
    return parser.parse_args(argv)


async def _start_pos(host: str, port: int, ssl_context: Any,
                     rate_limit: float | None = None) -> tuple[web.AppRunner | None, str | None]:
    from emulator.pos.app import create_pos_app
    from emulator.pos.settings import PosEmulatorSettings

    settings = PosEmulatorSettings() if rate_limit is None else PosEmulatorSettings(rate_limit_per_second=rate_limit)
    runner = web.AppRunner(create_pos_app(settings), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    actual = sockets[0].getsockname()[1] if sockets else port
    return runner, f"{'https' if ssl_context else 'http'}://{host}:{actual}"


async def run(args: argparse.Namespace) -> int:
    ca_file = None
    ssl_context = None
    pubsub_tls = None
    if args.tls:
        ca_file, key_file = generate_self_signed()
        ssl_context = server_context(ca_file, key_file)
        pubsub_tls = key_pair(ca_file, key_file)
    pubsub = PubSubSettings(enabled=not args.no_pubsub, port=args.pubsub_port,
                            keepalive_seconds=args.pubsub_keepalive_seconds)
    settings = SfEmulatorSettings(state_file=args.state_file, seed=args.seed, pubsub=pubsub,
                                  order_summary_flow=args.order_summary_flow,
                                  cometd=CometdSettings(connect_hold_seconds=args.cometd_hold_seconds))
    sf = await start_sf_emulator(settings, args.host, args.sf_port, ssl_context, pubsub_tls=pubsub_tls)
    pos_runner, pos_url = await _start_pos(args.host, args.pos_port, ssl_context, args.pos_rate_limit)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    graphql_url = f"{pos_url}/graphql" if pos_url else None  # the GraphQL POS API (issuer: <pos_url>/oidc)
    print(json.dumps({"sf_url": sf.url, "pos_url": pos_url, "graphql_url": graphql_url,
                      "pubsub_target": sf.pubsub_target, "ca_file": ca_file}),
          flush=True)
    await stop.wait()
    if pos_runner is not None:
        await pos_runner.cleanup()
    await sf.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
