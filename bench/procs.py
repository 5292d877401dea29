"""Start the emulators and the worker as their own processes, and read what they report."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_KEY = "bench-webhook-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulators(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    log = (workdir / "emulator.log").open("wb")
    # The POS throttle is off: the bench measures the worker and its Salesforce calls, not the POS's 10 req/s.
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--sf-port", "0",
                             "--pos-port", "0", "--seed", "demo", "--pos-rate-limit", "0"],
                            stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line:
        raise RuntimeError(f"emulator did not start; see {workdir / 'emulator.log'}")
    return proc, json.loads(line)


def worker_yaml(workdir: Path, sf_url: str, pos_url: str, port: int, *, transport: str = "cometd",
                pubsub_target: str | None = None, name: str = "worker.yaml",
                salesforce: dict[str, object] | None = None) -> Path:
    """The bench worker's config on ``transport`` (cometd, or pubsub at the emulator's plaintext
    ``pubsub_target``); ``salesforce`` adds keys to that section (e.g. order_summary)."""
    stream: dict[str, object] = {"transport": transport}
    if transport == "pubsub":
        stream["pubsub"] = {"target": pubsub_target, "tls": False}
    raw: dict[str, dict[str, object]] = {
        "salesforce": {
            "UrlBase": sf_url, "Username": "integration@example.com", "Password": "demo-password",
            "OMSCustomField": [{"omsFieldName": "warehouseID__c", "posField": "ORDER_STORE_ID", "applyTo": "LOCATION"}],
            "FilterQuery": "DeliveryMethod.Name IN ('BOPIS', 'BOFIS')", "OMSStatusesToProcess": ["Allocated"],
            "allow_insecure_local": True,
        },
        "auth": {"flow": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
        "pos": {"environment": "Test", "base_url": pos_url, "token_url": f"{pos_url}/oauth2/token",
                "merchant_id": "acme", "rate_limit_per_second": 100000,
                "auth": {"mode": "legacy", "client_id": "demo-pos-client", "client_secret": "demo-pos-secret",
                         "pos_secret": "demo-pos-secret-header", "api_key": "demo-pos-api-key"}},
        "worker": {"store_url": f"sqlite:///{workdir / 'state.db'}", "http": {"host": "127.0.0.1", "port": port},
                   "webhook": {"api_key": WEBHOOK_KEY}, "reconcile": {"interval_seconds": 3600},
                   "concurrency": {"import_batch_size": 200, "import_workers": 4, "posting_workers": 16,
                                   "connect_calls": 32},
                   "stream": stream, "log_level": "WARNING", "log_format": "json"},
    }
    raw["salesforce"].update(salesforce or {})
    path = workdir / name
    path.write_text(yaml.safe_dump(raw))
    return path


def start_worker(config: Path, workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "worker.cli", "run", "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ))


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """Current VmRSS of a live process (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_port(port: int, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")
