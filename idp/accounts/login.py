"""The login session: who is signed in, since when and how. The only module that reads or
writes its keys; every other package asks through the functions below.

Sign-out sends the ``session_ended`` signal (blinker, shipped with Flask), so that a higher
layer (OpenID Connect back-channel logout) reacts without accounts importing it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import wraps

from blinker import Namespace
from flask import current_app, g, has_request_context, redirect, request, session, url_for

from idp.accounts.lookup import usable_account
from idp.accounts.models import Account
from idp.accounts.second_factor import PendingSecondFactor
from idp.audit.deps import audit_journal
from idp.audit.service import Origin
from idp.extensions import app_clock, db, store

ACR_PASSWORD = "urn:netentreprises:acr:pwd"  # noqa: S105 (an acr value): password only
ACR_MFA = "urn:netentreprises:acr:mfa"  # password (or certificate) and a one-time code
ACR_CERTIFICATE = "urn:netentreprises:acr:certificat"  # a registered client certificate
MFA_METHODS = ("pwd", "otp", "mfa")  # RFC 8176 values once the second step is passed
# RFC 8176 §2: "hwk", proof of possession of a hardware-secured key, then "mfa".
PASSKEY_METHODS = ("hwk", "mfa")
# RFC 8176 §2 "swk": proof of possession of a software-secured key, a certificate's.
CERTIFICATE_METHOD = "swk"

# The session value holding the account id; the session interface indexes sessions by it.
SESSION_OWNER_KEY = _ACCOUNT = "account_id"
_AUTH_TIME = "auth_time"
_AMR = "amr"
_SID = "sid"
_SECOND_FACTOR = "second_factor"
# Survives the session id change at sign-in: the authorization request waiting for it.
_AWAITING = "awaiting_login"

signals = Namespace()
#: Sent with ``account_id``, ``sid`` and ``initiated_by`` (a partner's client_id or None)
#: when a person signs out, before the browser session is cleared.
session_ended = signals.signal("session-ended")


@dataclass(frozen=True)
class Login:
    """The signed-in person and how they signed in (OIDC Core §2, RFC 8176)."""

    account: Account
    auth_time: int
    amr: tuple[str, ...]
    sid: str | None  # the OIDC session id, distinct from the cookie

    @property
    def acr(self) -> str:
        """The assurance level the methods reach."""
        if "mfa" in self.amr:  # a code or a passkey after the first factor (RFC 8176)
            return ACR_MFA
        return ACR_CERTIFICATE if CERTIFICATE_METHOD in self.amr else ACR_PASSWORD


def sign_in(account: Account, methods: list[str] | tuple[str, ...]) -> None:
    """Open a signed-in session for ``account`` under a new session id."""
    awaiting = session.get(_AWAITING)
    second_step = session.get(_SECOND_FACTOR)
    if second_step:
        PendingSecondFactor(store.get()).finish(second_step)
    # A new id at sign-in: an id planted before login (session fixation) is worth nothing.
    session.regenerate()
    if awaiting:
        session[_AWAITING] = awaiting
    session[_ACCOUNT] = str(account.id)
    # auth_time and amr come from here, not from token creation (OIDC Core §2, RFC 8176).
    session[_AUTH_TIME] = int(app_clock()())
    session[_AMR] = list(methods)
    session[_SID] = secrets.token_urlsafe(16)
    g.pop("current_login", None)


def upgrade_to_mfa() -> None:
    """The person just typed a valid code (enrolment): the session now counts as 2FA."""
    session[_AMR] = list(MFA_METHODS)
    g.pop("current_login", None)


def sign_out(origin: Origin, initiated_by: str | None = None) -> None:
    """« Vous déconnecter »: journal it, tell subscribers (partners), end the session."""
    login = current_login()
    if login is not None:
        audit_journal().record("logout", "success", account_id=login.account.id, origin=origin,
                               details={"initiated_by": initiated_by} if initiated_by else {})
        db.session.commit()
        session_ended.send(current_app._get_current_object(), account_id=login.account.id,
                           sid=login.sid, initiated_by=initiated_by)
    _forget_session()


def _forget_session() -> None:
    account_id = session.get(_ACCOUNT)
    sid = session.sid
    session.clear()
    session.modified = True
    if account_id:
        current_app.session_interface.forget_account_session(account_id, sid)
    g.pop("current_login", None)


def current_login() -> Login | None:
    """The signed-in person, or None; a removed or locked account is signed out."""
    if "current_login" not in g:
        login = None
        account_id = session.get(_ACCOUNT)
        if account_id:
            account = usable_account(db.session, account_id)
            if account is None:
                _forget_session()
            else:
                login = Login(account, session.get(_AUTH_TIME, 0),
                              tuple(session.get(_AMR, ["pwd"])), session.get(_SID))
        g.current_login = login
    return g.current_login


def current_account() -> Account | None:
    """The signed-in account, or None."""
    login = current_login()
    return login.account if login else None


def browser_session_id() -> str | None:
    """The id of this browser's session (kept when the others are ended)."""
    return session.sid if has_request_context() else None


def login_required(view):
    """Send anonymous visitors to « Vous connecter », then back here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_account() is None:
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


# --- the authorization request waiting for a sign-in -------------------------------------

def await_sign_in() -> str:
    """Mark that an authorization request waits for a sign-in; return the marker it carries."""
    marker = secrets.token_urlsafe(16)
    session[_AWAITING] = marker
    return marker


def signed_in_for(marker: str | None) -> bool:
    """Whether the person just signed in for the request carrying ``marker``."""
    return bool(marker) and secrets.compare_digest(marker, session.get(_AWAITING, ""))


def stop_awaiting() -> None:
    """The waiting authorization request is answered."""
    session.pop(_AWAITING, None)


# --- the second sign-in step ---------------------------------------------------------------

def start_second_step(account: Account, next_url: str | None, first_factor: str = "pwd"):
    """After a right password (or certificate: ``first_factor``), ask for the code (the
    account is not signed in yet)."""
    session[_SECOND_FACTOR] = PendingSecondFactor(store.get()).start(str(account.id), next_url,
                                                                     first_factor)
    return redirect(url_for("accounts.second_step"))


def pending_second_step() -> tuple[str, dict] | None:
    """The token and state of the second step this browser is in, if any."""
    token = session.get(_SECOND_FACTOR)
    pending = PendingSecondFactor(store.get()).get(token)
    return (token, pending) if pending else None
