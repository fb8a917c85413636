"""gunicorn refuses several workers on the in-process store, rather than breaking silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_several_workers_without_redis_are_refused(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("IDP_")}
    environment["IDP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    result = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
         f"127.0.0.1:{free_port()}", "wsgi:app"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "ne sert qu'un processus" in result.stderr
    assert "IDP_REDIS_URL" in result.stderr
