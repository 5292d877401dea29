"""The production image and installs: pinned base, hash-locked dependencies, no emulator and no lark in production."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from worker import cli

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, args in _instructions():
        if instruction == "FROM":
            current = []
            stages[args.split()[-1]] = current
        current.append((instruction, args))
    return stages


def _pins(name: str) -> dict[str, tuple[str, int]]:
    """A lock file's pins: package -> (version, number of hashes)."""
    text = (LOCKS / name).read_text(encoding="utf-8")
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            pins[canonicalize_name(match.group(1))] = (match.group(2), block.count("--hash=sha256:"))
    return pins


def test_base_image_is_pinned_by_tag_and_digest() -> None:
    """Every stage starts from the one python:3.11.x-slim base pinned by sha256 digest (or from another stage)."""
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert re.fullmatch(r"python:3\.11\.\d+-slim@sha256:[0-9a-f]{64}", base)
    stages = _stages()
    for name, instructions in stages.items():
        source = instructions[0][1].split()[0]
        assert source == "${PYTHON_IMAGE}" or source in stages, name


def test_runtime_stage_is_lean_and_runs_as_a_numeric_user() -> None:
    """The default (last) stage: numeric USER, exec-form entrypoint, no HEALTHCHECK, no emulator, no build tools."""
    stages = _stages()
    name, runtime = list(stages.items())[-1]
    assert name == "runtime"
    users = [args for instruction, args in runtime if instruction == "USER"]
    assert users and re.fullmatch(r"\d+:\d+", users[-1]) and not users[-1].startswith("0:")
    assert all(instruction != "HEALTHCHECK" for instruction, _ in _instructions())
    assert ("ENTRYPOINT", '["oms-worker"]') in runtime
    copies = " ".join(args for instruction, args in runtime if instruction in ("COPY", "ADD"))
    assert "emulator" not in copies and "--from=build " in copies
    run = " ".join(args for instruction, args in runtime if instruction == "RUN")
    assert "pip uninstall" in run and "setuptools" in run and 'import lark' in run


def test_pip_installs_in_the_image_are_hash_checked_binary_wheels() -> None:
    """Every `pip install -r` in the Dockerfile uses a requirements/ lock with --require-hashes and wheels only."""
    installs = [args for instruction, args in _instructions() if instruction == "RUN"
                for args in re.split(r"&&", args) if "install" in args and " -r " in args]
    assert len(installs) >= 3
    for command in installs:
        assert "--require-hashes" in command and "--only-binary=:all:" in command, command
        assert re.search(r"-r requirements/\w+\.txt", command), command
    sources = [src for instruction, args in _stages()["build"] if instruction == "COPY"
               for src in [t for t in args.split() if not t.startswith("--")][:-1]]
    assert "worker" in sources
    assert not {"emulator", "emulator/", ".", "./"} & set(sources)  # the worker wheel cannot contain the emulator


def test_lock_files_pin_every_package_with_hashes() -> None:
    """Each lock pins every package to one version with sha256 hashes; the image locks agree with dev.txt."""
    dev = _pins("dev.txt")
    for name in ("build.txt", "dev.txt", "runtime.txt", "emulator.txt"):
        pins = _pins(name)
        assert pins, name
        assert all(hashes for _, hashes in pins.values()), name
        if name != "build.txt":
            assert {pkg: v for pkg, (v, _) in pins.items()} == {pkg: dev[pkg][0] for pkg in pins}, name
    assert "lark" not in _pins("runtime.txt")
    assert "lark" in _pins("emulator.txt")
    assert {"pip", "setuptools"} <= _pins("build.txt").keys()


def _requirements(extra: str | None) -> list[Requirement]:
    raw = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    out: list[Requirement] = []
    for line in raw:
        req = Requirement(line)
        if canonicalize_name(req.name) == canonicalize_name(PROJECT["name"]):
            for inner in sorted(req.extras):  # the project's own extras, e.g. test includes emulator
                out += _requirements(inner)
        else:
            out.append(req)
    return out


@pytest.mark.parametrize(("lock", "extras"), [
    ("runtime.txt", []), ("emulator.txt", ["emulator"]), ("dev.txt", ["emulator", "test"]),
])
def test_locks_satisfy_pyproject(lock: str, extras: list[str]) -> None:
    """Each lock holds a version allowed by pyproject.toml for every requirement it serves (else: make lock)."""
    pins = _pins(lock)
    for req in _requirements(None) + [r for extra in extras for r in _requirements(extra)]:
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} lacks {req}: run make lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), f"{lock}: {name}=={pins[name][0]} vs {req}"


def test_lark_is_only_in_the_emulator_extra() -> None:
    """The emulator's parser is an optional extra; the test extra includes it; the worker's dependencies do not."""
    assert "lark" not in {canonicalize_name(r.name) for r in _requirements(None)}
    assert "lark" in {canonicalize_name(r.name) for r in _requirements("emulator")}
    assert "lark" in {canonicalize_name(r.name) for r in _requirements("test")}


def test_worker_source_imports_neither_the_emulator_nor_lark() -> None:
    """No worker module but the demo command imports emulator or lark (DESIGN: only `demo` may use the emulator)."""
    offenders = []
    for path in sorted((ROOT / "worker").rglob("*.py")):
        if path == ROOT / "worker/demo.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("emulator", "lark")]
    assert offenders == []


def test_every_worker_module_imports_without_the_emulator_extra(tmp_path: Path) -> None:
    """With lark and the emulator unimportable, as in the production image, every worker module still imports."""
    code = (
        "import sys, pkgutil, importlib\n"
        "sys.modules['lark'] = None\n"
        "sys.modules['emulator'] = None\n"
        "import worker\n"
        "names = [m.name for m in pkgutil.walk_packages(worker.__path__, 'worker.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 20


def test_demo_says_it_needs_the_emulator_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`oms-worker demo` without lark exits 2 and names the emulator extra, instead of a traceback."""
    monkeypatch.setitem(sys.modules, "lark", None)
    assert cli.main(["demo", "--workdir", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert "emulator extra" in err and "make demo" in err and "Traceback" not in err
    assert not (tmp_path / "demo").exists()
