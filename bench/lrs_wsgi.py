"""Bench-only WSGI entry points for gunicorn.

``full()`` is the service as deployed. ``lrs_only()`` is the same app with every ingest hook removed
(progress projection, certificates, forwarding), to measure what the LRS itself costs; the hooks'
share is the difference between the two runs.

    gunicorn -w 4 --chdir bench "lrs_wsgi:lrs_only()"
"""

from __future__ import annotations

from lms_service import create_app


def full():
    return create_app()


def lrs_only():
    from lms_service.lrs import ingest

    app = create_app()
    for hook in list(ingest._hooks):
        ingest.unregister_ingest_hook(hook)
    return app
