"""``GET /status`` for a person: the report of :class:`worker.status.StatusBoard` as one small HTML page.

Server-rendered, no JavaScript (the page is served with a Content-Security-Policy that forbids scripts), every
value escaped; it reloads itself every 15 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from worker.store import STATES

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}.up{color:#1a7f37;font-weight:600}.down{color:#c62828;font-weight:600}
.muted{color:#777}
"""


def _e(value: Any) -> str:
    return escape("—" if value is None else str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``rows`` hold HTML that is already escaped."""
    top = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


def _state(state: str) -> str:
    return f'<span class="{"up" if state == "up" else "down"}">{_e(state)}</span>'


def _details(name: str, dep: dict[str, Any]) -> str:
    if name == "salesforce":
        api = dep.get("api")
        return (f"API calls left: {_e(api['remaining'])} of {_e(api['max'])}" if api
                else "API calls left: unknown (no answer yet)")
    if name == "stream":
        flow = dep.get("flow_control")
        window = (f"; flow control: {_e(flow['requested'])} requested, {_e(flow['outstanding'])} not yet stored "
                  f"(window {_e(flow['window'])})") if flow else ""
        return (f"{_e(dep.get('transport') or 'cometd')}; subscribed: {_e('yes' if dep.get('subscribed') else 'no')}; "
                f"last message: {_seconds(dep.get('last_message_seconds_ago'), ' ago')}; "
                f"lag of the latest event: {_seconds(dep.get('lag_seconds'))}; "
                f"reopened {_e(dep.get('reconnects'))} times; "
                f"last stored replay id: {_e(dep.get('last_replay_id') or 'none yet')}{window}")
    return ""


def _seconds(value: Any, suffix: str = "") -> str:
    return "unknown" if value is None else f"{_e(value)} s{suffix}"


def render_status(report: dict[str, Any]) -> str:
    """The page for ``report`` (the JSON of /status)."""
    deps = report.get("dependencies") or {}
    dep_rows = [[_e(name), _state(dep.get("state", "")), _e(dep.get("reason")), _details(name, dep)]
                for name, dep in deps.items()]
    queues = report.get("queues")
    if queues is None:
        queue_html = '<p class="down">Queues unknown: the store cannot be read.</p>'
    else:
        queue_html = _table(["queue", *STATES, "oldest waiting (s)", "failing"],
                            [[_e(q), *(_e(states.get(s, 0)) for s in STATES), _e(states.get("oldest_waiting_seconds")),
                              _e(states.get("failing", ""))]
                             for q, states in queues.items()])
    dead = report.get("dead_letters")
    if dead is None:
        dead_html = '<p class="muted">Unknown (the store cannot be read).</p>'
    elif not dead["shown"]:
        dead_html = "<p>None.</p>"
    else:
        dead_html = (f"<p>{_e(dead['total'])} in all; the first {_e(len(dead['shown']))} "
                     "(<code>oms-worker dlq list</code> shows them all):</p>"
                     + _table(["id", "queue", "order", "attempts", "failed at", "last error"],
                              [[_e(d["id"]), _e(d["queue"]), _e(d["key"]), _e(d["attempts"]), _e(d["failed_at"]),
                                _e(d["error"])] for d in dead["shown"]]))
    out = report.get("outbound") or {}
    paused = (f'<p class="down">Paused for {_e(out.get("resumes_in_seconds"))} s more: {_e(out.get("reason"))}</p>'
              if out.get("paused") else '<p class="up">Not paused.</p>')
    ready = "ready" if report.get("ready") else "NOT ready"
    alive = "alive" if report.get("alive") else "NOT alive"
    draining = " — draining (shutting down)" if report.get("draining") else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>oms-worker status</title><style>{STYLE}</style></head>
<body>
<h1>oms-worker {_e(report.get("version"))}</h1>
<p id="summary">Worker {_e(report.get("worker_id"))}: {_e(alive)}, {_e(ready)}{_e(draining)}.
<span class="muted">As of {_e(report.get("at"))}.</span></p>
<h2>Dependencies</h2>
{_table(["dependency", "state", "reason", "details"], dep_rows)}
<h2>Queues</h2>
{queue_html}
<h2>Dead letters</h2>
{dead_html}
<h2>Outbound work</h2>
{paused}
</body></html>
"""
