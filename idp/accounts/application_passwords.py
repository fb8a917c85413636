"""Application passwords: what payroll software presents at ``/authentifier/1.0/`` instead of
the person's own password (which then never reaches the software, and which 2FA protects).

Each one is random, shown once, named by its holder, revocable, and stored as a SHA-256
digest: 100 random bits need no slow hash, and the sign-in form never looks at them.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from idp.accounts.models import Account, ApplicationPassword
from idp.hashing import sha256_hex
from idp.models_common import utcnow

# Lower-case letters and digits without the look-alikes (0/o, 1/l/i): read off a screen and
# typed into software settings without mistakes. 20 of 31 symbols: about 99 bits.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS, _GROUP_LENGTH = 5, 4
MAX_PER_ACCOUNT = 20


class TooManyApplicationPasswords(Exception):
    """The account already holds MAX_PER_ACCOUNT application passwords."""


def new_secret() -> str:
    """A fresh application password, in dash-separated groups of four: ``abcd-efgh-…``."""
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_LENGTH))
    return "-".join(symbols[i:i + _GROUP_LENGTH]
                    for i in range(0, len(symbols), _GROUP_LENGTH))


def _digest(secret: str) -> str:
    # Software may keep the groups with spaces, without dashes or in capitals.
    return sha256_hex("".join(c for c in secret.lower() if c.isalnum()))


class ApplicationPasswords:
    """The application passwords of accounts: create, list, match, revoke."""

    def __init__(self, session: Session):
        self._session = session

    def of(self, account: Account) -> list[ApplicationPassword]:
        """The account's application passwords, newest first."""
        return list(self._session.scalars(
            select(ApplicationPassword).where(ApplicationPassword.account_id == account.id)
            .order_by(ApplicationPassword.id.desc())))

    def create(self, account: Account, name: str) -> tuple[ApplicationPassword, str]:
        """A new application password named ``name``: the row and the secret to show once
        (not committed)."""
        held = self._session.scalar(select(func.count()).select_from(ApplicationPassword)
                                    .where(ApplicationPassword.account_id == account.id))
        if held >= MAX_PER_ACCOUNT:
            raise TooManyApplicationPasswords()
        secret = new_secret()
        row = ApplicationPassword(account_id=account.id, name=name.strip(),
                                  secret_hash=_digest(secret))
        self._session.add(row)
        self._session.flush()
        return row, secret

    def match(self, account: Account, secret: str) -> ApplicationPassword | None:
        """The application password of ``account`` that ``secret`` is, marked used now."""
        row = self._session.scalar(select(ApplicationPassword).where(
            ApplicationPassword.account_id == account.id,
            ApplicationPassword.secret_hash == _digest(secret)))
        if row is not None:
            row.last_used_at = utcnow()
        return row

    def revoke(self, account: Account, password_id: int) -> ApplicationPassword | None:
        """Delete the account's application password ``password_id``; the row, or None when
        it is not one of theirs (not committed)."""
        row = self._session.scalar(select(ApplicationPassword).where(
            ApplicationPassword.id == password_id, ApplicationPassword.account_id == account.id))
        if row is not None:
            self._session.execute(delete(ApplicationPassword)
                                  .where(ApplicationPassword.id == row.id))
        return row
