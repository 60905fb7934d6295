"""gunicorn's settings for the hub: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be changed from the environment (``GUNICORN_CMD_ARGS`` or the
``HUB_WEB_*`` variables below) without editing this file; docs/deploy.md lists them.
"""

import os

bind = os.environ.get("HUB_WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HUB_WEB_WORKERS", "2"))
threads = int(os.environ.get("HUB_WEB_THREADS", "4"))
worker_class = "gthread"
# Webhooks are answered once stored, so a request never waits on a vendor.
timeout = int(os.environ.get("HUB_WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Each worker opens its own database connections after the fork.
preload_app = False
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("HUB_WEB_LOG_LEVEL", "info")
# The proxy in front (TLS, the public URL) is trusted to say the scheme.
forwarded_allow_ips = os.environ.get("HUB_WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
# No control socket: several gunicorns may run on one machine under one user.
control_socket_disable = True


def on_starting(server):
    """Make the folder where every process writes its metrics, if one is set."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    """Drop the live gauges of a worker that ended, so /metrics stops counting it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
