# oms-worker sidecar image: slim Python 3.11, non-root, exec-form entrypoint, HEALTHCHECK on /healthz.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY emulator ./emulator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 oms && useradd --system --uid 10001 --gid oms --home-dir /var/lib/oms-worker oms \
    && mkdir -p /var/lib/oms-worker /etc/oms-worker && chown oms:oms /var/lib/oms-worker
COPY --from=build /install /usr/local
COPY config/worker.example.yaml /etc/oms-worker/config.yaml
USER oms:oms
VOLUME ["/var/lib/oms-worker"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["oms-worker", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["oms-worker"]
CMD ["run", "--config", "/etc/oms-worker/config.yaml"]
