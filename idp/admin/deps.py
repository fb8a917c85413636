"""Builds the admin package's services for the current app (no composition root)."""

from __future__ import annotations

import uuid

from flask import current_app

from idp.accounts.deps import mailer, welcome_links
from idp.admin.declarants import DeclarantService
from idp.admin.emails import AdminMailer
from idp.admin.portfolios import PortfolioDesk
from idp.admin.rights import RightsGrid
from idp.admin.subscriptions import SubscriptionDesk
from idp.audit.deps import audit_journal
from idp.extensions import app_now as now
from idp.extensions import db
from idp.habilitations.deps import bulk_habilitations, habilitation_service


def rights_grid() -> RightsGrid:
    """« Gérer les habilitations »: a declarant's grid of rights."""
    return RightsGrid(db.session, habilitation_service(), audit_journal(), AdminMailer(), now)


def subscription_desk() -> SubscriptionDesk:
    """« Gérer les services »: the company's subscriptions."""
    return SubscriptionDesk(db.session, habilitation_service(), audit_journal(), now)


def declarant_service() -> DeclarantService:
    """« Gérer les déclarants », in the current database session, on the app's clock."""
    interface = current_app.session_interface

    def end_sessions(account_id: uuid.UUID) -> None:
        # Every session of the declarant: none of them is the administrator's own.
        interface.end_account_sessions(str(account_id))

    return DeclarantService(db.session, audit_journal(), mailer(), habilitation_service(),
                            welcome_links(), end_sessions, now)


def portfolio_desk() -> PortfolioDesk:
    """« Gérer les portefeuilles »."""
    return PortfolioDesk(db.session, habilitation_service(), bulk_habilitations(),
                         audit_journal(), AdminMailer())
