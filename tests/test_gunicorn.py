"""The service under gunicorn: serves /healthz and shuts down cleanly on SIGTERM."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "LMS_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lms_service:create_app()", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--graceful-timeout", "10"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(process.stdout.read().decode() if process.poll() is not None else "timeout")
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        output = process.stdout.read().decode()
        assert "Shutting down: Master" in output
        assert "Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
