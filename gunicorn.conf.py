"""Gunicorn settings read from the working directory (Procfile and `make run`); flags on the command line win.

A SIGTERM lets every worker finish the requests it holds (up to graceful_timeout) before it exits, so a
deploy or a scale-down loses no learner's answer.
"""
import os

graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("WORKER_TIMEOUT", "60"))
keepalive = 5
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Recycle workers now and then so a slow leak can never take a process down.
max_requests = int(os.environ.get("MAX_REQUESTS", "5000"))
max_requests_jitter = 500
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    # The application's start-up objects (modules, the SQLAlchemy registry, catalogs) never die: move them
    # out of the collector's sight, so a full collection walks only what requests allocate. Without this one
    # request in six on a report page pays about 80 ms of garbage collection (bench/reports_bench.py).
    import gc

    gc.collect()
    gc.freeze()


def worker_exit(server, worker):
    # Close pooled database connections cleanly instead of letting the server see dropped sockets.
    try:
        from lms_service.extensions import db

        app = getattr(worker, "wsgi", None)
        if app is not None and hasattr(app, "app_context"):
            with app.app_context():
                db.engine.dispose()
    except Exception as error:  # shutting down: log, never raise
        server.log.warning("worker %s: could not dispose the database pool: %s", worker.pid, error)
