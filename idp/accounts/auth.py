"""The signed-in person of the current request, kept in the server-side session."""

from __future__ import annotations

import secrets
import time
import uuid
from functools import wraps

from flask import current_app, g, redirect, request, session, url_for

from idp.accounts.models import Account, Status
from idp.extensions import db

# Survives the session id change at sign-in: the authorization request waiting for it.
AWAITING_LOGIN = "awaiting_login"


def sign_in(account: Account, methods: list[str]) -> None:
    """Open a signed-in session for ``account`` under a new session id."""
    awaiting = session.get(AWAITING_LOGIN)
    # A new id at sign-in: an id planted before login (session fixation) is worth nothing.
    session.regenerate()
    if awaiting:
        session[AWAITING_LOGIN] = awaiting
    session["account_id"] = str(account.id)
    # auth_time and amr come from here, not from token creation (OIDC Core §2, RFC 8176).
    session["auth_time"] = int(time.time())
    session["amr"] = methods
    session["sid"] = secrets.token_urlsafe(16)  # OIDC session id, distinct from the cookie
    g.pop("current_account", None)


def sign_out() -> None:
    """End the current session in the store and in the browser."""
    account_id = session.get("account_id")
    sid = session.sid
    session.clear()
    session.modified = True
    if account_id:
        current_app.session_interface.forget_account_session(account_id, sid)
    g.pop("current_account", None)


def current_account() -> Account | None:
    """The signed-in account, or None; a removed or locked account is signed out."""
    if "current_account" not in g:
        account = None
        account_id = session.get("account_id")
        if account_id:
            account = db.session.get(Account, uuid.UUID(account_id))
            if account is None or account.status in (Status.REMOVED, Status.LOCKED):
                sign_out()
                account = None
        g.current_account = account
    return g.current_account


def login_required(view):
    """Send anonymous visitors to « Vous connecter », then back here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper
