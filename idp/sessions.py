"""Server-side sessions kept in the store; the browser only holds a random id.

Why not Flask-Session: its backends are Redis or a cachelib cache, not our store's two modes,
and it cannot list an account's sessions, which sign-out everywhere and password changes need.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from idp.store import Store

SESSION_KEY = "session:{}"
ACCOUNT_SESSIONS_KEY = "account-sessions:{}"


class ServerSideSession(CallbackDict, SessionMixin):
    """A session whose data lives in the store under ``sid``."""

    def __init__(self, data=None, sid: str | None = None, new: bool = False):
        def on_update(session):
            session.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid or new_session_id()
        self.new = new
        self.modified = False
        self.retired_sid: str | None = None

    def regenerate(self) -> None:
        """Drop the data and take a new id, so a pre-login id is useless after login."""
        if not self.new and self.retired_sid is None:
            self.retired_sid = self.sid
        self.clear()
        self.sid = new_session_id()
        self.modified = True


def new_session_id() -> str:
    """A 256-bit random session id."""
    return secrets.token_urlsafe(32)


class StoreSessionInterface(SessionInterface):
    """Flask session interface over ``idp.store``."""

    def __init__(self, store: Store, idle_minutes: int, owner_key: str):
        """``owner_key`` names the session value that holds the signed-in account's id (the
        login session's own key, given by accounts): sessions are indexed by it."""
        self.store = store
        self.lifetime = int(timedelta(minutes=idle_minutes).total_seconds())
        self.owner_key = owner_key

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        """Load the session named by the cookie, or start an empty one."""
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid:
            raw = self.store.get(SESSION_KEY.format(sid))
            if raw is not None:
                return ServerSideSession(json.loads(raw), sid=sid)
        return ServerSideSession(new=True)

    def save_session(self, app: Flask, session: ServerSideSession, response: Response) -> None:
        """Write the session back (or delete it when emptied) and set the cookie."""
        cookie = self.get_cookie_name(app)
        if session.retired_sid:
            self.store.delete(SESSION_KEY.format(session.retired_sid))
        if not session:
            if session.modified and not session.new:
                self.store.delete(SESSION_KEY.format(session.sid))
                response.delete_cookie(
                    cookie,
                    domain=self.get_cookie_domain(app),
                    path=self.get_cookie_path(app),
                )
            return
        key = SESSION_KEY.format(session.sid)
        account_id = session.get(self.owner_key)
        if session.modified:
            self.store.set(key, json.dumps(session), self.lifetime)
            if account_id:
                self.store.add_member(
                    ACCOUNT_SESSIONS_KEY.format(account_id), session.sid, self.lifetime
                )
        else:
            # The idle timeout slides with activity; the account's index must outlive it.
            self.store.touch(key, self.lifetime)
            if account_id:
                self.store.touch(ACCOUNT_SESSIONS_KEY.format(account_id), self.lifetime)
        response.set_cookie(
            cookie,
            session.sid,
            max_age=self.lifetime,
            httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
        )

    def forget_account_session(self, account_id: str, sid: str) -> None:
        """Drop ``sid`` from the index of ``account_id``'s sessions."""
        self.store.remove_member(ACCOUNT_SESSIONS_KEY.format(account_id), sid)

    def end_account_sessions(self, account_id: str, keep: str | None = None) -> None:
        """Delete every session of ``account_id`` from the store, but ``keep``."""
        index = ACCOUNT_SESSIONS_KEY.format(account_id)
        ended = self.store.members(index) - {keep}
        self.store.delete(*(SESSION_KEY.format(sid) for sid in ended))
        for sid in ended:
            self.store.remove_member(index, sid)
