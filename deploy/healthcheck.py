"""Container health check (deploy/Dockerfile): GET /healthz on this container's gunicorn.

Sends a Host header the settings allow (the first of ALLOWED_HOSTS) so that Django answers rather than
refusing the host; /healthz is exempt from the HTTPS redirect (config/settings/prod.py). Exit 0 when the
process answers 200 within 4 seconds, 1 otherwise."""

import os
import sys
import urllib.request

host = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
port = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").rsplit(":", 1)[-1]
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/healthz", headers={"Host": host if host and host != "*" else "localhost"}
)
try:
    with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
