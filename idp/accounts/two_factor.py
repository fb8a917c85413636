"""Two-factor authentication: TOTP (pyotp) with replay protection, and recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from idp.accounts.models import Account, RecoveryCode
from idp.models_common import utcnow
from idp.store import Store

RECOVERY_CODES = 10
ENROLMENT_SECONDS = 15 * 60
STEP_SECONDS = 30


def recovery_code() -> str:
    """A code like « 7KQ4-M2XD-9F3B »: 60 bits, easy to copy from paper."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I look-alikes
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


def normalise_code(code: str) -> str:
    """Codes are typed with spaces, dashes and any case."""
    return "".join(code.split()).replace("-", "").upper()


class TwoFactor:
    """Enrolment, verification (±1 time step, no replay) and recovery codes."""

    def __init__(self, session: Session, store: Store, secret_key: str, issuer: str,
                 clock=time.time):
        self._session = session
        self._store = store
        self._secret_key = secret_key.encode()
        self._issuer = issuer
        self._clock = clock

    def pending_secret(self, account: Account) -> str:
        """The secret being enrolled (kept server-side until the first code confirms it)."""
        key = f"totp-enrolment:{account.id}"
        secret = self._store.get(key)
        if secret is None:
            secret = pyotp.random_base32()
            self._store.set(key, secret, ENROLMENT_SECONDS)
        return secret

    def provisioning_uri(self, account: Account, secret: str) -> str:
        """The otpauth:// URI authenticator apps read from the QR code."""
        label = f"{account.siret} {account.first_name} {account.last_name}"
        return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=self._issuer)

    def qr_svg(self, uri: str) -> str:
        """The QR code of ``uri`` as inline SVG (no image request, works under our CSP)."""
        return segno.make(uri, error="m").svg_inline(scale=4)

    def confirm_enrolment(self, account: Account, code: str) -> list[str] | None:
        """Turn 2FA on if ``code`` matches the pending secret; return the recovery codes."""
        key = f"totp-enrolment:{account.id}"
        secret = self._store.get(key)
        step = self._matching_step(secret, code) if secret else None
        # Taking the pending secret is the single-use step: of two confirmations racing with
        # one code, one wins; a wrong code leaves the pending secret in place.
        if step is None or self._store.pop(key) != secret:
            return None
        account.totp_secret = secret
        account.totp_last_step = step
        return self._new_recovery_codes(account)

    def verify(self, account: Account, code: str) -> str | None:
        """Check a TOTP code or a recovery code; return "otp", "recovery" or None.

        A TOTP code is accepted for its step, the one before or the one after (clock drift),
        and only if that step is later than the last one used: a code seen over a shoulder or
        in a log cannot be replayed (warehouse does the same).
        """
        if not account.totp_secret:
            return None
        step = self._matching_step(account.totp_secret, code)
        if step is not None:
            return "otp" if self._advance_step(account, step) else None
        wanted = normalise_code(code)
        if len(wanted) == 12 and self._use_recovery_code(account, self._digest(wanted)):
            return "recovery"
        return None

    def _advance_step(self, account: Account, step: int) -> bool:
        # Compare-and-set in the database: of requests racing with one code (or a replay),
        # exactly one moves the last step forward.
        moved = self._session.execute(
            update(Account)
            .where(Account.id == account.id,
                   or_(Account.totp_last_step.is_(None), Account.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)).rowcount
        self._session.refresh(account, ["totp_last_step"])
        return moved == 1

    def _digest(self, normalised_code: str) -> str:
        # 60 random bits need no slow hash: an HMAC under the app secret keeps a stolen table
        # useless, and one wrong code costs one HMAC, not ten argon2 runs.
        return hmac.new(self._secret_key, normalised_code.encode(), hashlib.sha256).hexdigest()

    def _use_recovery_code(self, account: Account, digest: str) -> bool:
        for stored in account.recovery_codes:
            if stored.used_at is None and hmac.compare_digest(stored.code_hash, digest):
                # Conditional UPDATE: of two requests racing with the same code, one wins.
                used = self._session.execute(
                    update(RecoveryCode)
                    .where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=utcnow())
                    .execution_options(synchronize_session=False)).rowcount
                self._session.refresh(stored)
                return used == 1
        return False

    def disable(self, account: Account) -> None:
        """Turn 2FA off and forget the secret and recovery codes."""
        account.totp_secret = None
        account.totp_last_step = None
        account.recovery_codes.clear()

    def remaining_recovery_codes(self, account: Account) -> int:
        """How many recovery codes are still unused."""
        return sum(1 for code in account.recovery_codes if code.used_at is None)

    def _matching_step(self, secret: str, code: str) -> int | None:
        code = "".join(code.split())
        # ASCII only: « １２３４５６ » is digits to Python but no TOTP code.
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        totp = pyotp.TOTP(secret)
        now_step = int(self._clock()) // STEP_SECONDS
        for step in (now_step - 1, now_step, now_step + 1):
            if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
                return step
        return None

    def _new_recovery_codes(self, account: Account) -> list[str]:
        codes = [recovery_code() for _ in range(RECOVERY_CODES)]
        account.recovery_codes.clear()
        account.recovery_codes.extend(
            RecoveryCode(code_hash=self._digest(normalise_code(c))) for c in codes)
        return codes
