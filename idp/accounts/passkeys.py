"""Passkeys (WebAuthn, with py_webauthn) as the second sign-in step and for step-up.

A ceremony's challenge lives in the shared store under the browser's key (its session for
registration, its pending second step for sign-in) and is taken out once: a response can be
verified a single time, even when sent twice at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.models import Account, Passkey
from idp.models_common import utcnow
from idp.store import Store

CEREMONY_SECONDS = 5 * 60
MAX_PER_ACCOUNT = 10


class PasskeyRefused(Exception):
    """The authenticator's answer does not verify, or its challenge expired or was used."""


class TooManyPasskeys(Exception):
    """The account already holds MAX_PER_ACCOUNT passkeys."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the IdP's host (the RP ID) and its origin."""

    rp_id: str
    origin: str
    name: str

    @classmethod
    def of(cls, issuer: str, name: str) -> RelyingParty:
        """The relying party of an IdP published at ``issuer``."""
        parts = urlsplit(issuer)
        return cls(parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}", name)


def _descriptors(account: Account) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in account.passkeys]


class Passkeys:
    """Registration and verification ceremonies, and the account's list."""

    def __init__(self, session: Session, store: Store, party: RelyingParty):
        self._session = session
        self._store = store
        self._party = party

    def _remember(self, purpose: str, browser_key: str, challenge: bytes) -> None:
        self._store.set(f"webauthn:{purpose}:{browser_key}", bytes_to_base64url(challenge),
                        CEREMONY_SECONDS)

    def _take(self, purpose: str, browser_key: str) -> bytes:
        challenge = self._store.pop(f"webauthn:{purpose}:{browser_key}")
        if challenge is None:
            raise PasskeyRefused()
        return base64url_to_bytes(challenge)

    def registration_options(self, account: Account, browser_key: str) -> str:
        """The options for ``navigator.credentials.create``, as JSON."""
        if len(account.passkeys) >= MAX_PER_ACCOUNT:
            raise TooManyPasskeys()
        options = generate_registration_options(
            rp_id=self._party.rp_id, rp_name=self._party.name, user_id=account.id.bytes,
            user_name=f"{account.siret} {account.first_name} {account.last_name}",
            user_display_name=f"{account.first_name} {account.last_name}",
            challenge=secrets.token_bytes(32),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            exclude_credentials=_descriptors(account))
        self._remember("register", browser_key, options.challenge)
        return options_to_json(options)

    def register(self, account: Account, browser_key: str, credential: dict,
                 name: str) -> Passkey:
        """Verify the authenticator's answer and keep the passkey (flushed, not committed)."""
        challenge = self._take("register", browser_key)
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=self._party.rp_id, expected_origin=self._party.origin)
        except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
            # Whatever the browser sent that does not verify (a structure, a signature, a
            # challenge or an origin): refused, never a 500.
            raise PasskeyRefused() from None
        credential_id = bytes_to_base64url(verified.credential_id)
        if self._session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
            raise PasskeyRefused()
        passkey = Passkey(account_id=account.id, credential_id=credential_id,
                          public_key=verified.credential_public_key,
                          sign_count=verified.sign_count, name=name.strip())
        self._session.add(passkey)
        self._session.flush()
        return passkey

    def authentication_options(self, account: Account, browser_key: str) -> str:
        """The options for ``navigator.credentials.get``, as JSON (the account's passkeys)."""
        options = generate_authentication_options(
            rp_id=self._party.rp_id, challenge=secrets.token_bytes(32),
            allow_credentials=_descriptors(account),
            user_verification=UserVerificationRequirement.PREFERRED)
        self._remember("sign-in", browser_key, options.challenge)
        return options_to_json(options)

    def verify(self, account: Account, browser_key: str, credential: dict) -> Passkey:
        """The passkey of ``account`` that answered the challenge (its counter and last use
        updated, not committed); else raise PasskeyRefused."""
        challenge = self._take("sign-in", browser_key)
        answered = credential.get("id") if isinstance(credential, dict) else None
        passkey = next((p for p in account.passkeys if p.credential_id == answered), None)
        if passkey is None:
            raise PasskeyRefused()
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=self._party.rp_id, expected_origin=self._party.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count)
        except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
            raise PasskeyRefused() from None
        passkey.sign_count = verified.new_sign_count
        passkey.last_used_at = utcnow()
        return passkey

    def remove(self, account: Account, passkey_id: int) -> str | None:
        """Delete one of the account's passkeys; its name, or None (not committed)."""
        passkey = next((p for p in account.passkeys if p.id == passkey_id), None)
        if passkey is None:
            return None
        self._session.execute(delete(Passkey).where(Passkey.id == passkey.id))
        self._session.expire(account, ["passkeys"])
        return passkey.name

