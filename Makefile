# oms-worker — the two set-up commands are `make demo` and `make test`; both build the venv from project files.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Hash-locked installs (requirements/, written by `make lock`): build.txt (pip, setuptools, grpcio-tools for the
# Pub/Sub stubs), dev.txt (the worker, the emulator and the test tools), runtime.txt and emulator.txt (the Docker
# image's stages).
LOCK       := requirements
UV_VERSION := 0.13.9
# Resolved for the image's Python 3.11 on Linux; each pin lists the hashes of all its files (any CPU).
# `make lock` keeps current pins where pyproject.toml allows them; `make lock UPGRADE=1` takes the newest.
LOCK_FLAGS  = --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
              --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

.PHONY: install proto lock demo test lint typecheck unit integration e2e chaos bench emulator clean

# The Pub/Sub API stubs (worker/_pubsub_pb, gitignored) are generated here from proto/pubsub_api.proto.
$(STAMP): pyproject.toml $(LOCK)/build.txt $(LOCK)/dev.txt proto/pubsub_api.proto proto/generate.py
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11+) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)/build.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)/dev.txt
	$(BIN)/python proto/generate.py --typed
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check || { echo "$(LOCK)/*.txt do not match pyproject.toml: run make lock"; exit 1; }
	touch $(STAMP)

install: $(STAMP)

# Regenerate worker/_pubsub_pb alone (e.g. after deleting it); `make install` does this when the .proto changes.
proto: $(STAMP)
	$(BIN)/python proto/generate.py --typed

lock:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11+) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_FLAGS) -o $(LOCK)/dev.txt
	$(BIN)/uv pip compile pyproject.toml -c $(LOCK)/dev.txt $(LOCK_FLAGS) -o $(LOCK)/runtime.txt
	$(BIN)/uv pip compile pyproject.toml --extra emulator -c $(LOCK)/dev.txt $(LOCK_FLAGS) -o $(LOCK)/emulator.txt
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print(*p["build-system"]["requires"], *p["project"]["optional-dependencies"]["codegen"], "pip", sep="\n")' \
		| $(BIN)/uv pip compile - -c $(LOCK)/dev.txt $(LOCK_FLAGS) -o $(LOCK)/build.txt

demo: $(STAMP)
	$(BIN)/oms-worker demo --workdir .demo $(if $(POS),--pos $(POS))

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy worker

# One pytest run over every test (chaos included, at CI scale) so its last line is the whole verdict.
test: lint typecheck
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

chaos: $(STAMP)
	$(BIN)/python -m pytest -q -m chaos

bench: $(STAMP)
	$(BIN)/python -m bench --out bench/results.json

emulator: $(STAMP)
	$(BIN)/python -m emulator --seed demo

clean:
	rm -rf .demo .pytest_cache .mypy_cache .ruff_cache
