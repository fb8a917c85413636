"""« Mentions légales », « Accessibilité », « Données personnelles »: fixed pages."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/mentions-legales")
def legal_notice():
    """Who publishes and hosts the service."""
    return render_template("pages/legal_notice.html")


@bp.get("/accessibilite")
def accessibility():
    """The accessibility statement (RGAA 4.1)."""
    return render_template("pages/accessibility.html")


@bp.get("/donnees-personnelles")
def personal_data():
    """What personal data the service keeps, why, for how long, and the holder's rights."""
    return render_template("pages/personal_data.html")
