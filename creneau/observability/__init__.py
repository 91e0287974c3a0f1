"""Operations: the Prometheus endpoint, the request middleware (request id, latency, access log) and JSON
log lines. Reads other apps' tables for gauges; nothing depends on it."""
