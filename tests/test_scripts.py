"""The test command never wipes a database that is not named for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def without_idp_variables() -> dict:
    """This process's environment minus the IDP_* settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith("IDP_")}


def test_scripts_test_refuses_a_database_not_named_for_tests():
    environment = without_idp_variables()
    environment["IDP_TEST_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:5432/idp"
    result = subprocess.run(["bash", "scripts/test"], cwd=ROOT, env=environment,  # noqa: S603,S607
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "la base « idp » ne porte pas « test » dans son nom" in result.stderr
    assert "Suite 1/2" not in result.stdout  # refused before anything ran


def test_pytest_refuses_a_database_not_named_for_tests():
    environment = without_idp_variables()
    environment["IDP_DATABASE_URL"] = "postgresql+psycopg://postgres@127.0.0.1:5432/production"
    result = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "pytest", "-q", "tests/test_scripts.py::without_idp_variables"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4
    assert "'production'" in result.stdout + result.stderr
