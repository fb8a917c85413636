"""Builds the interop services of the current app."""

from __future__ import annotations

from flask import current_app

from idp.interop.service import Navigator
from idp.oidc.deps import client_registry


def navigator() -> Navigator:
    """Partner targets and third-party-initiated logins, with the app's client registry."""
    return Navigator(client_registry(), current_app.config["ISSUER"])
