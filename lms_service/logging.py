"""Request logging: one line per request with method, path, status and duration."""
from __future__ import annotations

import logging
import sys
import time

from flask import Flask, g, request

log = logging.getLogger("lms_service.request")


def init_logging(app: Flask) -> None:
    root = logging.getLogger("lms_service")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        started = g.get("request_started")
        if started is not None and not request.path.startswith("/static/"):
            log.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                     (time.perf_counter() - started) * 1000)
        return response
