"""« Sécurité de votre compte »: password, secret question, e-mail, 2FA, recent sign-ins.

Every change is journaled and e-mailed to the holder; a new password ends the holder's
other sessions.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.application_passwords import ApplicationPasswords
from idp.accounts.email_domains import DISPOSABLE_DOMAINS, domain_of
from idp.accounts.emails import AccountMailer
from idp.accounts.models import Account
from idp.accounts.names import login_key, name_key
from idp.accounts.passkeys import Passkeys
from idp.accounts.passwords import PasswordHasher
from idp.accounts.throttling import LoginThrottle
from idp.accounts.two_factor import TwoFactor
from idp.audit.models import AuditEvent
from idp.audit.service import AuditJournal, Origin
from idp.hashing import sha256_hex
from idp.models_common import utcnow
from idp.store import Store

EMAIL_CHANGE_SECONDS = 24 * 3600

SECRET_QUESTIONS = [
    _l("Quel est le nom de votre premier animal de compagnie ?"),
    _l("Quelle est la ville de naissance de votre mère ?"),
    _l("Quel était le nom de votre école primaire ?"),
    _l("Quel est le prénom de votre meilleur ami d'enfance ?"),
    _l("Quel était le modèle de votre première voiture ?"),
    _l("Quel est votre plat préféré ?"),
]


class WrongPassword(Exception):
    """The current password given to confirm a change is wrong; ``resets_in`` is the wait
    this failure started (the sign-in limiter of the account), in seconds."""

    def __init__(self, resets_in: int = 0):
        super().__init__("wrong password")
        self.resets_in = resets_in


class WrongCode(Exception):
    """The 2FA code given to confirm a change is wrong; ``resets_in`` as above."""

    def __init__(self, resets_in: int = 0):
        super().__init__("wrong code")
        self.resets_in = resets_in


class EmailRefused(Exception):
    """The new address is at a disposable or refused domain."""


class ReauthenticationRequired(Exception):
    """Replacing the authenticator of an account with 2FA needs its password and a code."""


class PasswordRefused(Exception):
    """The new password breaks the policy; ``problems`` says how."""

    def __init__(self, problems):
        super().__init__("password refused")
        self.problems = problems


def answer_key(answer: str) -> str:
    """Secret answers compare like names: case, accents and spaces do not matter."""
    return name_key(answer)


class AccountSecurity:
    """The changes a signed-in person makes to their own account's security."""

    def __init__(self, session: Session, store: Store, hasher: PasswordHasher, policy,
                 journal: AuditJournal, notifier: AccountMailer, two_factor: TwoFactor,
                 end_other_sessions: Callable[[uuid.UUID], None],
                 password_throttle: LoginThrottle, code_throttle: LoginThrottle,
                 application_passwords: ApplicationPasswords, passkeys: Passkeys,
                 denied_email_domains: frozenset[str] = DISPOSABLE_DOMAINS):
        self._passkeys = passkeys
        self._application_passwords = application_passwords
        self._denied_email_domains = denied_email_domains
        self._password_throttle = password_throttle
        self._code_throttle = code_throttle
        self._session = session
        self._store = store
        self._hasher = hasher
        self._policy = policy
        self._journal = journal
        self._notifier = notifier
        self._two_factor = two_factor
        self._end_other_sessions = end_other_sessions

    def confirm_password(self, account: Account, password: str) -> None:
        """Raise WrongPassword (or TooManyFailedLogins) unless ``password`` is the account's."""
        # The sign-in limiter of the account: a session holder guesses no faster than anyone
        # at « Vous connecter », and each guess costs an argon2 run.
        key = login_key(account.siret, account.last_name, account.first_name)
        self._password_throttle.check(key)
        if not self._hasher.verify(account.password_hash, password):
            raise WrongPassword(self._password_throttle.fail(key))
        self._password_throttle.reset(key)

    def _check_password_and_code(self, account: Account, password: str, code: str) -> None:
        self.confirm_password(account, password)
        key = str(account.id)
        self._code_throttle.check(key)
        if self._two_factor.verify(account, code) is None:
            self._session.commit()  # a used recovery code stays used
            raise WrongCode(self._code_throttle.fail(key))
        self._code_throttle.reset(key)

    def check_policy(self, new_password: str) -> None:
        """Raise PasswordRefused if ``new_password`` breaks the policy."""
        evaluation = self._policy.evaluate(new_password)
        if not evaluation.accepted:
            raise PasswordRefused(evaluation.problems)

    def set_password(self, account: Account, new_password: str, origin: Origin,
                     action: str) -> None:
        """Store a new password (policy checked), journal, e-mail, end other sessions."""
        self.check_policy(new_password)
        account.password_hash = self._hasher.hash(new_password)
        account.password_changed_at = utcnow()
        self._journal.record(action, "success", account_id=account.id, origin=origin)
        self._session.commit()
        self._notifier.security_change(account, str(_l("nouveau mot de passe")))
        self._end_other_sessions(account.id)

    def change_password(self, account: Account, current: str, new_password: str,
                        origin: Origin) -> None:
        """Change the password; the current one is required."""
        self.confirm_password(account, current)
        self.set_password(account, new_password, origin, "password.changed")

    def change_secret_question(self, account: Account, password: str, question: str,
                               answer: str, origin: Origin) -> None:
        """Choose a new secret question and answer (stored as an argon2 hash)."""
        self.confirm_password(account, password)
        account.secret_question = question
        account.secret_answer_hash = self._hasher.hash(answer_key(answer))
        self._journal.record("secret_question.changed", "success", account_id=account.id,
                             origin=origin)
        self._session.commit()
        self._notifier.security_change(account, str(_l("nouvelle question secrète")))

    def request_email_change(self, account: Account, password: str, new_email: str,
                             origin: Origin, link_for: Callable[[str], str]) -> None:
        """Send a confirmation link to ``new_email``; nothing changes until it is opened."""
        self.confirm_password(account, password)
        if domain_of(new_email) in self._denied_email_domains:
            raise EmailRefused()  # the same rule as at registration
        token = secrets.token_urlsafe(32)
        self._store.set(f"email-change:{sha256_hex(token)}",
                        json.dumps({"account": str(account.id), "email": new_email}),
                        EMAIL_CHANGE_SECONDS)
        self._journal.record("email.change_requested", "success", account_id=account.id,
                             origin=origin, details={"new_email": new_email})
        self._session.commit()
        self._notifier.email_change(account, new_email, link_for(token))

    def confirm_email_change(self, token: str, origin: Origin) -> Account | None:
        """Apply the e-mail change the link stands for (once); None if it is unknown."""
        raw = self._store.pop(f"email-change:{sha256_hex(token)}")
        if raw is None:
            return None
        data = json.loads(raw)
        account = self._session.get(Account, uuid.UUID(data["account"]))
        if account is None:
            return None
        old_email = account.email
        account.email = data["email"]
        account.email_verified = True
        self._journal.record("email.changed", "success", account_id=account.id,
                             origin=origin, details={"old_email": old_email})
        self._session.commit()
        if old_email and old_email != account.email:
            self._notifier.email_replaced(account, old_email)
        return account

    def allow_authenticator_change(self, account: Account, password: str, code: str,
                                   browser_session: str, origin: Origin) -> None:
        """With 2FA on, the password and a current code let this browser session enrol a
        new authenticator for ten minutes (raises WrongPassword, WrongCode or
        TooManyFailedLogins)."""
        self._check_password_and_code(account, password, code)
        self._store.set(f"totp-change:{browser_session}", str(account.id), 10 * 60)
        self._journal.record("2fa.change_allowed", "success", account_id=account.id,
                             origin=origin)
        self._session.commit()

    def may_enrol(self, account: Account, browser_session: str | None) -> bool:
        """Whether this session may see a new key: 2FA off, or the change was allowed."""
        return not account.totp_secret or (
            browser_session is not None
            and self._store.get(f"totp-change:{browser_session}") == str(account.id))

    def confirm_two_factor(self, account: Account, code: str, browser_session: str | None,
                           origin: Origin) -> list[str]:
        """Turn 2FA on (or replace the authenticator) with the first code of the new one;
        return the recovery codes to show once."""
        if not self.may_enrol(account, browser_session):
            raise ReauthenticationRequired()
        replacing = bool(account.totp_secret)
        codes = self._two_factor.confirm_enrolment(account, code)
        if codes is None:
            raise WrongCode()
        self._store.delete(f"totp-change:{browser_session}")
        action = "2fa.replaced" if replacing else "2fa.enabled"
        self._journal.record(action, "success", account_id=account.id, origin=origin)
        self._session.commit()
        self._notifier.security_change(account, str(
            _l("application d'authentification remplacée") if replacing
            else _l("double authentification activée")))
        return codes

    def disable_two_factor(self, account: Account, password: str, code: str,
                           origin: Origin) -> None:
        """Turn 2FA off: the password and a code are both required."""
        self._check_password_and_code(account, password, code)
        self._two_factor.disable(account)
        self._journal.record("2fa.disabled", "success", account_id=account.id, origin=origin)
        self._session.commit()
        self._notifier.security_change(account, str(_l("double authentification désactivée")))

    def create_application_password(self, account: Account, password: str, name: str,
                                    origin: Origin) -> str:
        """A new application password named ``name`` (the current password confirms it);
        return the secret, shown once (raises TooManyApplicationPasswords)."""
        self.confirm_password(account, password)
        row, secret = self._application_passwords.create(account, name)
        self._journal.record("application_password.created", "success", account_id=account.id,
                             origin=origin, details={"name": row.name})
        self._session.commit()
        self._notifier.security_change(account, str(
            _l("mot de passe d'application « %(name)s » créé", name=row.name)))
        return secret

    def revoke_application_password(self, account: Account, password_id: int,
                                    origin: Origin) -> str | None:
        """Revoke one of the account's application passwords; its name, or None if unknown."""
        row = self._application_passwords.revoke(account, password_id)
        if row is None:
            return None
        self._journal.record("application_password.revoked", "success", account_id=account.id,
                             origin=origin, details={"name": row.name})
        self._session.commit()
        return row.name

    def application_passwords(self, account: Account):
        """The account's application passwords, newest first."""
        return self._application_passwords.of(account)

    def passkey_options(self, account: Account, password: str, browser_session: str) -> str:
        """The WebAuthn creation options for a new passkey, once the current password is
        confirmed (raises WrongPassword, TooManyFailedLogins or TooManyPasskeys)."""
        self.confirm_password(account, password)
        return self._passkeys.registration_options(account, browser_session)

    def add_passkey(self, account: Account, browser_session: str, credential: dict,
                    name: str, origin: Origin) -> None:
        """Keep the passkey the authenticator created (raises PasskeyRefused); it becomes a
        second sign-in step."""
        passkey = self._passkeys.register(account, browser_session, credential, name)
        self._journal.record("passkey.added", "success", account_id=account.id,
                             origin=origin, details={"name": passkey.name})
        self._session.commit()
        self._notifier.security_change(account, str(
            _l("clé d'accès « %(name)s » ajoutée", name=passkey.name)))

    def remove_passkey(self, account: Account, passkey_id: int, origin: Origin) -> str | None:
        """Remove one of the account's passkeys; its name, or None if unknown."""
        name = self._passkeys.remove(account, passkey_id)
        if name is None:
            return None
        self._journal.record("passkey.removed", "success", account_id=account.id,
                             origin=origin, details={"name": name})
        self._session.commit()
        self._notifier.security_change(account, str(
            _l("clé d'accès « %(name)s » supprimée", name=name)))
        return name

    def recent_sign_ins(self, account: Account, limit: int = 10) -> list[AuditEvent]:
        """The last sign-ins and failed attempts on this account."""
        return list(self._session.scalars(
            select(AuditEvent).where(AuditEvent.account_id == account.id,
                                     AuditEvent.action == "login")
            .order_by(AuditEvent.id.desc()).limit(limit)))
