"""The token issuer: builds and signs RFC 9068 JWT access tokens, usable outside Authlib
(the code flow, token exchange, the machine API all mint through it)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from joserfc import jwt

from idp.oidc.keys import KeyRing
from idp.oidc.tokens import FAMILY_CLAIM, LoginContext


@dataclass(frozen=True)
class IssuedToken:
    """A signed access token and the claims it carries (no need to decode it back)."""

    token: str
    claims: dict

    @property
    def expires_in(self) -> int:
        """Seconds of life from issuance."""
        return self.claims["exp"] - self.claims["iat"]


class TokenIssuer:
    """Signs access tokens with the key ring's current key for the configured algorithm."""

    def __init__(self, keyring: KeyRing, issuer: str, alg: str, lifetime: int,
                 clock: Callable[[], float] = time.time):
        self._keyring = keyring
        self._issuer = issuer
        self._alg = alg
        self._lifetime = lifetime
        self._clock = clock

    def access_token(self, client_id: str, scope: str, login: LoginContext | None = None,
                     audience: str | None = None, extra: dict | None = None) -> IssuedToken:
        """An ``at+jwt`` for ``client_id``; ``login`` is the person it speaks for (none for
        client credentials); ``audience`` defaults to the IdP's own APIs."""
        now = int(self._clock())
        claims = {
            "iss": self._issuer,
            # The IdP's own APIs (userinfo, /api/v1) are the resource these tokens open.
            "aud": audience or self._issuer,
            "client_id": client_id,
            "iat": now,
            "exp": now + self._lifetime,
            "jti": secrets.token_urlsafe(16),
        }
        if scope:  # RFC 9068 §2.2.3; an empty claim would be refused (a client's own token)
            claims["scope"] = scope
        if login is None:
            claims["sub"] = client_id  # RFC 9068 §2.2: no resource owner
        else:
            claims["sub"] = login.account_id
            claims[FAMILY_CLAIM] = login.family_id  # revoking the family reaches this token
            # RFC 9068 §2.2.1: authentication information of the person, when known.
            optional = {"auth_time": login.auth_time, "amr": list(login.amr) or None,
                        "acr": login.acr, "sid": login.sid}
            claims.update({name: value for name, value in optional.items() if value})
        claims.update(extra or {})
        key = self._keyring.signer(self._alg)
        header = {"alg": self._alg, "typ": "at+jwt", "kid": key.kid}
        return IssuedToken(jwt.encode(header, claims, key), claims)
