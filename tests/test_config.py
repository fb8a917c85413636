"""Settings: embedded defaults, IDP_* variables, refused weak hashing."""

from __future__ import annotations

import pytest

from idp import create_app
from idp.config import ConfigurationError, load_settings


def test_embedded_default_is_a_sqlite_file_and_the_in_process_store(tmp_path, monkeypatch):
    for name in ("IDP_DATABASE_URL", "IDP_REDIS_URL", "IDP_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    assert settings["REDIS_URL"] is None
    # The generated secret is kept, so a restart keeps sessions valid.
    assert load_settings(str(tmp_path))["SECRET_KEY"] == settings["SECRET_KEY"]
    assert len(settings["SECRET_KEY"]) >= 40


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "https://idp.example")
    monkeypatch.setenv("IDP_LOGIN_FREE_ATTEMPTS", "5")
    settings = load_settings(str(tmp_path))
    assert settings["ISSUER"] == "https://idp.example"
    assert settings["LOGIN_FREE_ATTEMPTS"] == 5
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_non_numeric_setting_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("IDP_LOGIN_FREE_ATTEMPTS", "trois")
    with pytest.raises(ConfigurationError, match="IDP_LOGIN_FREE_ATTEMPTS doit être un nombre"):
        load_settings(str(tmp_path))


@pytest.mark.parametrize(("setting", "value"), [("ARGON2_MEMORY_KIB", 8192),
                                                ("ARGON2_TIME_COST", 1)])
def test_argon2_below_owasp_floor_is_refused(settings, setting, value):
    settings[setting] = value
    with pytest.raises(ConfigurationError):
        create_app(settings)
