# syntax=docker/dockerfile:1
# oms-worker image. Targets:
#   runtime (default, the last stage): the worker alone, production. No emulator, no lark, no pip/setuptools,
#            no compiler; numeric non-root user 10001:10001; no HEALTHCHECK (Kubernetes probes /healthz, /readyz).
#   emulator: the local Salesforce + POS emulator (Pub/Sub API on 18083), for deploy/compose.yaml only.
# Python packages come from the hash-locked files in requirements/ (`make lock` regenerates them).
#
# Base image: python:3.11-slim = 3.11.16-slim (Debian 13 "trixie"), pinned by its multi-platform index digest (as
# `docker pull python:3.11-slim` reports it; not pulled here). Refresh the tag and the digest together:
#   docker buildx imagetools inspect python:3.11-slim           # "Digest:": the index, for every platform
#   docker run --rm python:3.11-slim@sha256:<digest> python -V  # the 3.11.x release to write in the tag
# then update PYTHON_IMAGE below; a new Python minor also needs `make lock` (its --python-version).
ARG PYTHON_IMAGE=python:3.11.16-slim@sha256:1042b61448fef4ba92d16a8c7eb4996d027568ce64792a7877fd88511e0af7c6

# --- build: a venv at /opt/oms-worker with the locked dependencies (wheels only) and the worker --------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements/build.txt requirements/runtime.txt requirements/emulator.txt requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --only-binary=:all: -r requirements/build.txt \
    && python -m venv --without-pip /opt/oms-worker \
    && /opt/build/bin/pip --python /opt/oms-worker/bin/python install --require-hashes --only-binary=:all: \
        -r requirements/runtime.txt
# Only the worker package: the wheel built from here cannot contain the emulator. The Pub/Sub API stubs
# (worker/_pubsub_pb, not in git) are generated here by grpcio-tools from build.txt, which stays in this stage.
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY proto ./proto
RUN /opt/build/bin/python proto/generate.py \
    && /opt/oms-worker/bin/python -c "import sys; sys.path.insert(0, '.'); from worker._pubsub_pb import pubsub_api_pb2_grpc"
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
    && /opt/build/bin/pip --python /opt/oms-worker/bin/python install --no-deps /tmp/wheels/oms_worker-*.whl

# --- emulator (compose only): the worker's venv plus lark, and emulator/ on PYTHONPATH -----------------------------
FROM build AS emulator-build
RUN /opt/build/bin/pip --python /opt/oms-worker/bin/python install --require-hashes --only-binary=:all: \
        -r requirements/emulator.txt

FROM ${PYTHON_IMAGE} AS emulator
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/oms-worker/bin:$PATH PYTHONPATH=/opt/emulator
COPY --from=emulator-build /opt/oms-worker /opt/oms-worker
COPY emulator /opt/emulator/emulator
USER 10001:10001
EXPOSE 18081 18082 18083
ENTRYPOINT ["python", "-m", "emulator"]
CMD ["--host", "0.0.0.0", "--sf-port", "18081", "--pos-port", "18082", "--pubsub-port", "18083", "--seed", "demo"]

# --- runtime (default): production ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/oms-worker/bin:$PATH
# No installer or build backend at run time; the worker runs from its own venv.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --gid 10001 oms \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/oms-worker --shell /usr/sbin/nologin oms \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/oms-worker \
    && install -d -m 0755 /etc/oms-worker
COPY --from=build /opt/oms-worker /opt/oms-worker
COPY config/worker.example.yaml /etc/oms-worker/config.yaml
# Smoke: the CLI starts (--version once the CLI has it), every worker module imports (the GraphQL client, the
# Pub/Sub transport, PostgreSQL and the jwt_bearer flow's PyJWT load only when configured, so they are named here)
# and neither the emulator nor its parser is installed.
RUN (oms-worker --version 2>/dev/null || oms-worker --help >/dev/null) \
    && python -c "import worker.app, worker.server, worker._pubsub_pb.pubsub_api_pb2_grpc" \
    && python -c "import worker.pos_graphql.client, worker.salesforce.pubsub, worker.store.postgres, jwt" \
    && ! python -c "import lark" 2>/dev/null \
    && ! python -c "import emulator" 2>/dev/null
USER 10001:10001
VOLUME ["/var/lib/oms-worker"]
EXPOSE 8080
ENTRYPOINT ["oms-worker"]
CMD ["run", "--config", "/etc/oms-worker/config.yaml"]
