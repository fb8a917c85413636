"""Wording shared by the accounts pages."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import format_timedelta
from flask_babel import gettext as _


def wait_message(seconds: int) -> str:
    """« Veuillez patienter 30 secondes avant de réessayer », in the page's language."""
    delay = format_timedelta(timedelta(seconds=seconds), threshold=1, granularity="second")
    return _("Trop de tentatives de connexion infructueuses. "
             "Veuillez patienter %(delay)s avant de réessayer.", delay=delay)
