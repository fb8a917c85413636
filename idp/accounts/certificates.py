"""Sign-in by X.509 client certificate (« Utiliser un certificat »).

A person registers a certificate (its public PEM, or the one their browser presents); later
the certificate presented on the TLS connection signs them in if it chains to the configured
CA bundle, is within its dates, and is one they registered. The chain is checked here with
cryptography's verifier, whatever the TLS layer in front already checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.accounts.emails import AccountMailer
from idp.accounts.models import Account, ClientCertificate, Status
from idp.accounts.service import AccountLocked
from idp.accounts.throttling import LoginThrottle, TooManyFailedLogins
from idp.audit.service import AuditJournal, Origin
from idp.models_common import utcnow

MAX_PER_ACCOUNT = 10
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


class UnreadableCertificate(Exception):
    """Not an X.509 certificate in PEM (or DER in base64)."""


class CertificateRejected(Exception):
    """The certificate cannot be used; ``reason`` is ``expired``, ``not_yet_valid`` or
    ``untrusted`` (it does not chain to an accepted authority)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CertificateAlreadyRegistered(Exception):
    """This certificate is already registered (by this account or another)."""


class TooManyCertificates(Exception):
    """The account already holds MAX_PER_ACCOUNT certificates."""


class UnknownCertificate(Exception):
    """A valid certificate that no account registered."""


def read_certificate(data: bytes | str) -> x509.Certificate:
    """The certificate in ``data``: a PEM (as uploaded, or URL-escaped by a proxy such as
    nginx's ``$ssl_client_escaped_cert``, or with its line breaks turned into spaces), or
    base64 DER without armour (Traefik, Envoy)."""
    raw = data.encode("latin-1", "replace") if isinstance(data, str) else data
    if b"%" in raw:
        raw = unquote(raw.decode("latin-1")).encode("latin-1", "replace")
    found = _PEM.search(raw)
    body = found.group(1) if found else raw
    try:
        der = base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise UnreadableCertificate() from None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER encoding, in hex: what identifies a registered certificate."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


@cache
def _authorities(bundle: str) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_pem_x509_certificates(Path(bundle).read_bytes()))


class CertificateChecker:
    """Dates, then the chain to the CA bundle (cryptography's path validation, RFC 5280)."""

    def __init__(self, ca_bundle: str | None, clock: Callable[[], float] = time.time):
        self._ca_bundle = ca_bundle
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether certificate sign-in is configured (a CA bundle is set)."""
        return bool(self._ca_bundle)

    def check(self, certificate: x509.Certificate) -> None:
        """Raise CertificateRejected unless ``certificate`` may sign in now."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        if now > certificate.not_valid_after_utc:
            raise CertificateRejected("expired")
        if now < certificate.not_valid_before_utc:
            raise CertificateRejected("not_yet_valid")
        if not self.enabled:
            raise CertificateRejected("untrusted")
        # Personal certificates often carry no subjectAltName, which the Web PKI profile
        # demands of servers: let it be absent, keep every other rule of that profile.
        end_entity = ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
        verifier = (PolicyBuilder().store(Store(list(_authorities(self._ca_bundle))))
                    .time(now).extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                                  ee_policy=end_entity)
                    .build_client_verifier())
        try:
            verifier.verify(certificate, [])
        except VerificationError:
            raise CertificateRejected("untrusted") from None


@dataclass(frozen=True)
class PresentedCertificate:
    """What the page shows of a certificate before it is used or registered."""

    subject: str
    issuer: str
    not_after: datetime


def describe(certificate: x509.Certificate) -> PresentedCertificate:
    """Subject, issuer and expiry, as RFC 4514 strings."""
    return PresentedCertificate(certificate.subject.rfc4514_string(),
                                certificate.issuer.rfc4514_string(),
                                certificate.not_valid_after_utc)


class ClientCertificates:
    """Registered certificates: register, list, remove, and sign in with one."""

    def __init__(self, session: Session, checker: CertificateChecker, journal: AuditJournal,
                 ip_throttle: LoginThrottle, notifier: AccountMailer):
        self._notifier = notifier
        self._session = session
        self._checker = checker
        self._journal = journal
        self._ip_throttle = ip_throttle

    def of(self, account: Account) -> list[ClientCertificate]:
        """The account's certificates, newest first."""
        return list(self._session.scalars(
            select(ClientCertificate).where(ClientCertificate.account_id == account.id)
            .order_by(ClientCertificate.id.desc())))

    def register(self, account: Account, certificate: x509.Certificate,
                 origin: Origin) -> ClientCertificate:
        """Register ``certificate`` for ``account`` once it passes the checks (committed)."""
        self._checker.check(certificate)
        digest = fingerprint(certificate)
        if self._session.scalar(select(ClientCertificate.id)
                                .where(ClientCertificate.fingerprint == digest)):
            raise CertificateAlreadyRegistered()
        if len(self.of(account)) >= MAX_PER_ACCOUNT:
            raise TooManyCertificates()
        shown = describe(certificate)
        row = ClientCertificate(account_id=account.id, fingerprint=digest,
                                subject=shown.subject[:500], issuer=shown.issuer[:500],
                                not_after=shown.not_after)
        self._session.add(row)
        self._journal.record("certificate.registered", "success", account_id=account.id,
                             origin=origin, details={"subject": row.subject})
        self._session.commit()
        self._notifier.security_change(account, str(
            _l("certificat de connexion enregistré (%(subject)s)", subject=row.subject)))
        return row

    def remove(self, account: Account, certificate_id: int, origin: Origin) -> str | None:
        """Remove one of the account's certificates; its subject, or None if unknown."""
        row = self._session.scalar(select(ClientCertificate).where(
            ClientCertificate.id == certificate_id, ClientCertificate.account_id == account.id))
        if row is None:
            return None
        subject = row.subject
        self._session.execute(delete(ClientCertificate).where(ClientCertificate.id == row.id))
        self._journal.record("certificate.removed", "success", account_id=account.id,
                             origin=origin, details={"subject": subject})
        self._session.commit()
        return subject

    def authenticate(self, certificate: x509.Certificate, origin: Origin) -> Account:
        """The account that registered ``certificate``, if it passes the checks; else raise
        CertificateRejected, UnknownCertificate, AccountLocked or TooManyFailedLogins (the
        per-IP limiter of the password form: certificates are not guessed, but probing them
        is throttled)."""
        ip = origin.ip or "unknown"
        try:
            self._ip_throttle.check(ip)
            self._checker.check(certificate)
            row = self._session.scalar(select(ClientCertificate).where(
                ClientCertificate.fingerprint == fingerprint(certificate)))
            account = row.account if row is not None else None
            if account is None or account.status is Status.REMOVED:
                raise UnknownCertificate()
        except (CertificateRejected, UnknownCertificate) as error:
            self._ip_throttle.fail(ip)
            self._journal.record("login", "failure", origin=origin, details={
                "vector": "certificate", "reason": getattr(error, "reason", "unregistered"),
                "subject": certificate.subject.rfc4514_string()[:200]})
            self._session.commit()
            raise
        except TooManyFailedLogins:
            self._journal.record("login", "failure", origin=origin,
                                 details={"vector": "certificate", "reason": "throttled"})
            self._session.commit()
            raise
        if account.status is Status.LOCKED:
            self._journal.record("login", "failure", account_id=account.id, origin=origin,
                                 details={"vector": "certificate", "reason": "account_locked"})
            self._session.commit()
            raise AccountLocked()
        row.last_used_at = account.last_login_at = utcnow()
        self._journal.record("login", "success", account_id=account.id, origin=origin,
                             details={"vector": "certificate", "siret": account.siret})
        self._session.commit()
        return account
