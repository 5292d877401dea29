"""Assembly of the Salesforce emulator: settings, the ``SfEmulator`` object, the aiohttp app and a runner."""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .admin import add_admin_routes
from .cometd import CometdServer, CometdSettings, add_cometd_routes
from .errors import SfError
from .events import EventBus
from .faults import Faults
from .limits import ApiLimits, Counters, classify
from .oauth import OAuthSettings, TokenStore, add_oauth_routes
from .org import Org
from .pubsub import PubSubServer, PubSubSettings
from .rest import Call, RestApi, versions
from .scenario import SEEDS, apply_seed
from .schema import Schema

_LOG = logging.getLogger(__name__)
FO_STATUS_CHANNEL = "/event/FOStatusChangedEvent"


def _default_oauth() -> OAuthSettings:
    return OAuthSettings(users={"integration@example.com": "demo-password"}, clients={"demo-client": "demo-secret"})


@dataclass
class SfEmulatorSettings:
    oauth: OAuthSettings = field(default_factory=_default_oauth)
    cometd: CometdSettings = field(default_factory=CometdSettings)
    pubsub: PubSubSettings = field(default_factory=PubSubSettings)
    api_limit: int = 1_000_000
    cancel_status_value: str = "Cancelled"
    fo_statuses: list[tuple[str, str]] | None = None    # (Status, StatusCategory); None -> Salesforce defaults
    location_custom_fields: list[str] = field(default_factory=lambda: ["warehouseID__c"])
    state_file: str | None = None
    event_retention_seconds: float = 72 * 3600
    seed: str | None = None                               # a key of ``scenario.SEEDS`` ("demo", "bare") or None
    order_summary_flow: bool = False                      # org setting: a flow creates OrderSummaries on activation

    def statuses(self) -> list[tuple[str, str]]:
        if self.fo_statuses is not None:
            return list(self.fo_statuses)
        return [("Draft", "Draft"), ("Allocated", "Activated"), ("Assigned", "Fulfilling"),
                ("Pickpack", "Fulfilling"), ("Pick Complete", "Fulfilling"), ("Pack Complete", "Fulfilling"),
                ("Printed", "Fulfilling"), ("Fulfilled", "Closed"), (self.cancel_status_value, "Cancelled"),
                ("Rejected", "Rejected")]


class SfEmulator:
    """Everything a test or the admin API may poke: org, bus, tokens, cometd, faults, limits, counters."""

    cometd: CometdServer
    pubsub: PubSubServer

    def __init__(self, settings: SfEmulatorSettings) -> None:
        self.settings = settings
        statuses = settings.statuses()
        if settings.cancel_status_value not in {s for s, _ in statuses}:
            raise ValueError(f"cancel_status_value {settings.cancel_status_value!r} is not an FO status")
        self.bus = EventBus(retention_seconds=settings.event_retention_seconds)
        self.org = Org(Schema(statuses, settings.location_custom_fields), event_sink=self.bus.publish)
        self.org.cancel_status = settings.cancel_status_value
        self.org.order_summary_flow = settings.order_summary_flow
        self.tokens = TokenStore(settings.oauth)
        self.faults = Faults()
        self.limits = ApiLimits(settings.api_limit)
        self.counters = Counters()
        self.api = RestApi(self.org, self.limits,
                           count_call=lambda method, path: self.counters.count(classify(method, path)))
        self._load()
        if settings.seed:
            if settings.seed not in SEEDS:
                raise ValueError(f"unknown seed {settings.seed!r} (built in: {', '.join(SEEDS)})")
            apply_seed(self.org, SEEDS[settings.seed][0])

    def _load(self) -> None:
        path = self.settings.state_file
        if not path or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        self.org.load_state(state.get("org", {}))
        self.bus.load_state(state.get("bus", {}))
        self.limits.used = int(state.get("api_used", 0))

    def persist(self) -> bool:
        """Write org + event state to ``state_file`` (atomically); False when no file is configured."""
        path = self.settings.state_file
        if not path:
            return False
        state = {"org": self.org.to_state(), "bus": self.bus.to_state(), "api_used": self.limits.used}
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.replace(tmp, path)
        return True


SF_KEY = web.AppKey("sf", SfEmulator)


def _json_response(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


async def _count_cometd(emu: SfEmulator, request: web.Request) -> None:
    try:
        messages = json.loads(await request.read())
    except ValueError:
        return
    for message in messages if isinstance(messages, list) else [messages]:
        if isinstance(message, dict):
            channel = str(message.get("channel", ""))
            if channel in ("/meta/handshake", "/meta/connect", "/meta/subscribe"):
                emu.counters.count("cometd_" + channel.rsplit("/", 1)[1])


def _middleware(emu: SfEmulator) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if path.startswith("/__admin"):
            admin_response: web.StreamResponse = await handler(request)
            return admin_response
        started = time.perf_counter()
        kind = "oauth" if path.startswith("/services/oauth2") else classify(request.method, path)
        if path.startswith("/cometd"):
            kind = "cometd"
            if request.method == "POST":
                await _count_cometd(emu, request)
        elif kind == "oauth":
            emu.counters.count("oauth")
        delay = emu.faults.latency_seconds(path, kind)
        if delay:
            import asyncio

            await asyncio.sleep(delay)
        fault = emu.faults.pick_error(path)
        if fault is not None:
            response: web.StreamResponse = _json_response(fault.status, fault.body(), {})
        else:
            response = await handler(request)
        emu.counters.record(request.method, request.path_qs, response.status, kind, started)
        return response

    return middleware


async def _data_handler(request: web.Request) -> web.StreamResponse:
    emu = request.app[SF_KEY]
    path = request.path
    if path.rstrip("/") == "/services/data":
        return _json_response(200, versions(), {})
    try:
        if emu.tokens.validate(request.headers.get("Authorization")) is None:
            raise SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        emu.limits.consume()
        body = None
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise SfError(400, "JSON_PARSER_ERROR", f"Unexpected character in JSON: {exc}") from None
        emu.counters.count(classify(request.method, path))
        call = Call(request.method, path, request.query, request.headers, body)
        reply = emu.api.dispatch(call)
        status, reply_body, headers = reply.status, reply.body, dict(reply.headers)
    except SfError as exc:
        status, reply_body, headers = exc.status, exc.body(), {}
    headers["Sforce-Limit-Info"] = emu.limits.header()
    return _json_response(status, reply_body, headers)


def create_sf_app(settings: SfEmulatorSettings | None = None) -> web.Application:
    """The Salesforce emulator app; the ``SfEmulator`` is ``app[SF_KEY]`` (also ``app["sf"]``-style access)."""
    settings = settings or SfEmulatorSettings()
    emu = SfEmulator(settings)
    app = web.Application(middlewares=[_middleware(emu)], client_max_size=64 * 1024 * 1024)
    app[SF_KEY] = emu
    add_oauth_routes(app, emu.tokens, lambda request: f"{request.scheme}://{request.host}")
    emu.cometd = add_cometd_routes(app, emu.bus, emu.tokens, settings.cometd)
    # listens once start_sf_emulator starts it; counts its RPCs under pubsub_* in /__admin/counters
    emu.pubsub = PubSubServer(emu.bus, emu.tokens, settings.pubsub, count=emu.counters.count)
    add_admin_routes(app, emu)
    app.router.add_route("*", "/services/data{tail:.*}", _data_handler)

    async def on_cleanup(_: web.Application) -> None:
        try:
            emu.persist()
        except OSError:
            _LOG.exception("could not persist emulator state to %s", settings.state_file)

    app.on_cleanup.append(on_cleanup)
    return app


@dataclass
class RunningEmulator:
    url: str
    emulator: SfEmulator
    runner: web.AppRunner
    pubsub_target: str | None = None  # host:port of the Pub/Sub API (gRPC); None when settings.pubsub is off

    async def stop(self) -> None:
        await self.emulator.pubsub.stop()
        await self.runner.cleanup()


async def start_sf_emulator(settings: SfEmulatorSettings | None = None, host: str = "127.0.0.1", port: int = 0,
                            ssl_context: ssl.SSLContext | None = None, *,
                            pubsub_tls: tuple[bytes, bytes] | None = None) -> RunningEmulator:
    """Start the app on ``host:port`` (0 = any free port) and, unless ``settings.pubsub.enabled`` is off, the
    Pub/Sub API on ``host:settings.pubsub.port`` (TLS with ``pubsub_tls`` = (key PEM, certificate PEM))."""
    app = create_sf_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    actual = sockets[0].getsockname()[1] if sockets else port
    scheme = "https" if ssl_context else "http"
    emu = app[SF_KEY]
    target = None
    if emu.settings.pubsub.enabled:
        try:
            target = await emu.pubsub.start(host, emu.settings.pubsub.port, pubsub_tls)
        except BaseException:
            await runner.cleanup()
            raise
    return RunningEmulator(f"{scheme}://{host}:{actual}", emu, runner, target)
