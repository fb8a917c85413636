"""Records of what partners were let in, and which partners took part in a session."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.audit.service import AuditJournal, Origin
from idp.models_common import utcnow
from idp.oidc.models import AuthorizationGrant
from idp.store import Store

SESSION_CLIENTS_KEY = "oidc-session-clients:{}"


class AuthorizationRecorder:
    """Keeps the grant (no consent screen for federation members, but a record) and the
    session's partners, whom a logout must reach."""

    def __init__(self, session: Session, store: Store, journal: AuditJournal,
                 session_lifetime: int):
        self._session = session
        self._store = store
        self._journal = journal
        self._session_lifetime = session_lifetime

    def record(self, account: Account, client_id: str, scope: str, sid: str | None,
               origin: Origin) -> None:
        """Note that ``account`` let ``client_id`` in with ``scope`` during session ``sid``."""
        grant = self._session.get(AuthorizationGrant, (account.id, client_id))
        if grant is None:
            grant = AuthorizationGrant(account_id=account.id, client_id=client_id,
                                       first_granted_at=utcnow())
            self._session.add(grant)
        grant.scope = scope
        grant.last_granted_at = utcnow()
        self._journal.record("oidc.authorize", "success", account_id=account.id, origin=origin,
                             details={"client_id": client_id, "scope": scope})
        self._session.commit()
        if sid:
            self._store.add_member(SESSION_CLIENTS_KEY.format(sid), client_id,
                                   self._session_lifetime)

    def session_clients(self, sid: str) -> set[str]:
        """The partners that received tokens during session ``sid``."""
        return self._store.members(SESSION_CLIENTS_KEY.format(sid))
