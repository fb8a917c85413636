"""The two ways to find an account: by its login triple, and by its id for a live session."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idp.accounts.models import Account, Status
from idp.accounts.names import name_key


def account_by_login(session: Session, siret: str, last_name: str,
                     first_name: str) -> Account | None:
    """The account that is not removed with this (SIRET, Nom, Prénom), folded like sign-in.

    Served by the unique index ``uq_accounts_login``.
    """
    return session.scalar(select(Account).where(
        Account.siret == siret,
        Account.last_name_key == name_key(last_name),
        Account.first_name_key == name_key(first_name),
        Account.status != Status.REMOVED,
    ))


UNUSABLE = (Status.REMOVED, Status.LOCKED)
# Built once: asked at every token refresh.
_STATUS = select(Account.status).where(Account.id == bindparam("account_id"))


def usable_account(session: Session, account_id: str | uuid.UUID) -> Account | None:
    """The account ``account_id`` if it may still be signed in and receive tokens."""
    try:
        key = account_id if isinstance(account_id, uuid.UUID) else uuid.UUID(account_id)
    except (TypeError, ValueError):
        return None
    account = session.get(Account, key)
    if account is None or account.status in UNUSABLE:
        return None
    return account


def is_usable(session: Session, account_id: uuid.UUID) -> bool:
    """Whether ``account_id`` may still receive tokens, without loading the account."""
    status = session.scalar(_STATUS, {"account_id": account_id})
    return status is not None and status not in UNUSABLE
