"""The worker's import footprint: libraries one back-end or auth flow needs stay unloaded for the others."""

from __future__ import annotations

import subprocess
import sys

# each is resident memory the worker would hold for nothing (measured: simple_salesforce's package with
# requests, zeep and lxml about 13 MB, PyJWT with cryptography about 10 MB, gql with graphql-core about 7 MB)
OPTIONAL = ("simple_salesforce", "zeep", "lxml", "requests", "jwt", "cryptography", "gql", "graphql")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {OPTIONAL!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


def test_importing_the_worker_loads_no_optional_client_library() -> None:
    """worker.app and worker.cli import none of them: a Retail Cloud worker on password or client credentials."""
    assert loaded_after("import worker.app, worker.cli") == []
