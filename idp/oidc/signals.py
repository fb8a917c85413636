"""What the OIDC layer does when the accounts layer signals an event (accounts never
imports oidc: it sends, we listen)."""

from __future__ import annotations

from flask import Flask

from idp.accounts.login import session_ended
from idp.oidc.deps import logout_service


def end_partner_sessions(app: Flask, account_id, sid: str | None,
                         initiated_by: str | None) -> None:
    """A person signed out: revoke the session's tokens and back-channel every partner."""
    logout_service().end_session(account_id, sid)


def init_app(app: Flask) -> None:
    """Listen to ``app``'s sign-outs (module-level receiver: blinker keeps a weak reference)."""
    session_ended.connect(end_partner_sessions, sender=app)
