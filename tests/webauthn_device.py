"""A software WebAuthn authenticator for HTTP tests: it answers the IdP's options the way a
browser and a passkey do (attestation "none", ES256), so ceremonies run without a browser.
The browser tests use Chromium's own virtual authenticator instead."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    """One passkey: a key pair and a credential id, with its signature counter."""

    def __init__(self, origin: str, rp_id: str):
        self.origin, self.rp_id = origin, rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.counter = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options: dict) -> dict:
        """The answer of ``navigator.credentials.create`` to ``options``."""
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        attested = (b"\0" * 16 + struct.pack(">H", len(self.credential_id))
                    + self.credential_id + cose)
        auth_data = (hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x45])
                     + struct.pack(">I", self.counter) + attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(self._client_data(
                    "webauthn.create", options["challenge"])),
                    "attestationObject": b64url(attestation), "transports": ["internal"]}}

    def get(self, options: dict) -> dict:
        """The answer of ``navigator.credentials.get`` to ``options``."""
        self.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x05])
                     + struct.pack(">I", self.counter))
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data),
                             "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature), "userHandle": None}}
