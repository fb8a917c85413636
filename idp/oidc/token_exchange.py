"""OAuth 2.0 Token Exchange (RFC 8693) for partner back ends.

A confidential partner A, allowed to exchange for partner B (``client create
--may-exchange-for B``), posts to the token endpoint::

    grant_type=urn:ietf:params:oauth:grant-type:token-exchange
    subject_token=<a person's access token issued to A>
    subject_token_type=urn:ietf:params:oauth:token-type:access_token
    audience=B                     (or resource=<a URL owned by B>)
    scope=…                        (optional: at most the subject token's scope)

and receives ``{access_token, issued_token_type, token_type, expires_in, scope}`` (no refresh
token). The new token is an RFC 9068 access token with the same ``sub`` (and token family, so
revoking the person's grant reaches it), ``aud`` = B only (it opens B's APIs, not the IdP's:
their answers depend on the partner the token names), ``client_id`` = A, ``act`` =
``{"sub": A}`` (RFC 8693 §4.1; nested when the subject token had one), a scope narrowed to
the subject token's and B's registered scopes, and with ``habilitations`` in scope the
person's habilitations on the services B hosts only. It never outlives the subject token.

Errors follow RFC 8693 §2.2.2 and RFC 6749 §5.2: ``invalid_client`` (authentication),
``unauthorized_client`` (a public client, or one not allowed to exchange), ``invalid_request``
(a missing, repeated or unsupported parameter, and — as §2.2.2 requires — a subject token that
is invalid for any reason: unreadable, not ours, not an access token, expired, revoked, a
client's own token, issued to another partner, for a removed account), ``invalid_target``
(an audience or resource that is not one of the partner's exchange audiences),
``invalid_scope`` (wider than the subject token's, or outside what the audience accepts).
"""

from __future__ import annotations

import json

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
    list_to_scope,
    scope_to_list,
)
from joserfc import jwt
from joserfc.errors import JoseError

from idp.accounts.lookup import usable_account
from idp.audit.deps import audit_journal
from idp.extensions import app_clock, db
from idp.oidc.claims import DISTRIBUTED_SOURCE
from idp.oidc.clients import TOKEN_EXCHANGE, RegisteredClient, owns
from idp.oidc.deps import (
    claims_builder,
    client_registry,
    config,
    keyring,
    revocation_list,
    token_issuer,
)
from idp.oidc.tokens import FAMILY_CLAIM, LoginContext
from idp.web import request_origin

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a URN)
SINGLE_PARAMETERS = ("subject_token", "subject_token_type", "scope", "requested_token_type",
                     "actor_token", "actor_token_type")


# --- the grant ----------------------------------------------------------------------------

class InvalidTargetError(OAuth2Error):
    """RFC 8693 §2.2.2: no token can be issued for the audience or resource asked for."""

    error = "invalid_target"


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """RFC 8693 token exchange: a partner's back end trades a person's access token issued
    to it for one addressed to another partner it may call (see the module docstring)."""

    GRANT_TYPE = TOKEN_EXCHANGE
    # "none" identifies a public client only to refuse it with unauthorized_client.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post",
                                   "private_key_jwt", "none"]

    def validate_token_request(self):
        client: RegisteredClient = self.authenticate_token_endpoint_client()
        self.request.client = client
        if client.is_public or not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not exchange tokens.")
        data = self.request.payload.datalist
        for name in SINGLE_PARAMETERS:
            if len(data.get(name, [])) > 1:
                raise InvalidRequestError(f"Repeated '{name}'.")
        values = self.request.payload.data
        if values.get("actor_token") or values.get("actor_token_type"):
            raise InvalidRequestError("Delegation with 'actor_token' is not supported.")
        if values.get("requested_token_type") not in (None, "", ACCESS_TOKEN_TYPE):
            raise InvalidRequestError("Only access tokens can be requested.")
        subject_token = values.get("subject_token")
        if not subject_token:
            raise InvalidRequestError("Missing 'subject_token'.")
        if values.get("subject_token_type") != ACCESS_TOKEN_TYPE:
            raise InvalidRequestError(
                "'subject_token_type' must be urn:ietf:params:oauth:token-type:access_token.")
        claims = self._subject_claims(subject_token, client)
        target = self._target(client, data.get("audience", []), data.get("resource", []))
        self.request.credential = claims
        self.request.exchange_target = target
        self.request.exchange_scope = self._scope(claims.get("scope", ""), target)
        self.request.user = LoginContext(
            account_id=claims["sub"], auth_time=claims.get("auth_time"),
            amr=tuple(claims.get("amr") or ()), acr=claims.get("acr"), sid=claims.get("sid"),
            family_id=claims[FAMILY_CLAIM], services=target.services)

    def create_token_response(self):
        requester: RegisteredClient = self.request.client
        target: RegisteredClient = self.request.exchange_target
        subject: dict = self.request.credential
        login: LoginContext = self.request.user
        scope: str = self.request.exchange_scope
        act = {"sub": requester.client_id}
        if isinstance(subject.get("act"), dict):
            act["act"] = subject["act"]  # RFC 8693 §4.1: prior actors nest
        now = int(app_clock()())
        extra = {"act": act,
                 # Never outlives the token it was exchanged for.
                 "exp": min(now + config("OIDC_ACCESS_TOKEN_LIFETIME_SECONDS"),
                            int(subject["exp"]))}
        account = usable_account(db.session, login.account_id)
        if "habilitations" in scope_to_list(scope):
            extra.update(self._habilitations(account, target))
        issued = token_issuer().access_token(requester.client_id, scope, login,
                                             audience=target.client_id, extra=extra)
        audit_journal().record(
            "oidc.token_exchange", "success", account_id=account.id, origin=request_origin(),
            details={"client_id": requester.client_id, "audience": target.client_id,
                     "scope": scope, "subject_jti": subject.get("jti"),
                     "jti": issued.claims["jti"]})
        db.session.commit()
        body = {"access_token": issued.token, "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer", "expires_in": max(0, issued.expires_in),
                "scope": scope}
        return 200, body, self.TOKEN_RESPONSE_HEADER

    # --- checks -------------------------------------------------------------------------

    @staticmethod
    def _subject_claims(token_string: str, requester: RegisteredClient) -> dict:
        """The claims of a person's live access token issued to ``requester``; else
        ``invalid_request`` (RFC 8693 §2.2.2), with no detail on which check failed."""
        invalid = InvalidRequestError("The 'subject_token' is invalid.")
        if token_string.count(".") != 2:
            raise invalid
        try:
            token = jwt.decode(token_string, keyring().public_key_set(),
                               algorithms=["RS256", "ES256"])
        except (JoseError, ValueError):
            raise invalid from None
        claims = token.claims
        if token.header.get("typ") != "at+jwt" or claims.get("iss") != config("ISSUER"):
            raise invalid  # ID tokens and logout tokens are signed with the same keys
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= app_clock()():
            raise invalid
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("scope"), str) \
                or not isinstance(claims.get(FAMILY_CLAIM), str):
            raise invalid  # a partner's own token (client credentials) speaks for nobody
        if revocation_list().is_revoked(claims):
            raise invalid
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        # Issued to the requester: a token from its own sign-in (client_id, for the IdP's
        # APIs), or one exchanged for it by another partner (its audience).
        if requester.client_id not in audiences and not (
                "act" not in claims and claims.get("client_id") == requester.client_id):
            raise invalid
        if usable_account(db.session, claims["sub"]) is None:
            raise invalid
        return claims

    @staticmethod
    def _target(requester: RegisteredClient, audiences: list[str],
                resources: list[str]) -> RegisteredClient:
        """The one partner named by ``audience`` (a client_id) and/or ``resource`` (a URL it
        owns), among those ``requester`` may exchange for."""
        if not audiences and not resources:
            raise InvalidRequestError("Missing 'audience' (the client_id of the partner).")
        allowed = [p for p in (client_registry().find(cid)
                               for cid in requester.exchange_audiences) if p is not None]
        found = set()
        for audience in audiences:
            matches = [p for p in allowed if p.client_id == audience]
            if not matches:
                raise InvalidTargetError("The audience is not allowed for this client.")
            found.add(matches[0].client_id)
        for resource in resources:
            matches = [p for p in allowed if owns(p, resource)]
            if len(matches) != 1:
                raise InvalidTargetError("The resource is not allowed for this client.")
            found.add(matches[0].client_id)
        if len(found) != 1:
            raise InvalidTargetError("Name one partner per request.")
        return next(p for p in allowed if p.client_id in found)

    def _scope(self, subject_scope: str, target: RegisteredClient) -> str:
        """The requested scope, if within the subject token's and the target's; by default
        the subject token's scopes the target accepts. Never wider (RFC 8693 §2.1)."""
        original = scope_to_list(subject_scope) or []
        accepted = set(scope_to_list(target.scope) or [])
        requested = self.request.payload.scope
        if requested:
            wanted = list(dict.fromkeys(scope_to_list(requested)))
            if not set(wanted) <= set(original):
                raise InvalidScopeError("The scope is wider than the subject token's.")
            if not set(wanted) <= accepted:
                raise InvalidScopeError("A requested scope is not allowed for the audience.")
        else:
            wanted = [s for s in original if s in accepted]
        if not wanted:
            raise InvalidScopeError("No scope of the subject token is allowed for the "
                                    "audience.")
        return list_to_scope(wanted)

    @staticmethod
    def _habilitations(account, target: RegisteredClient) -> dict:
        """The person's habilitations on the services the target hosts, inline up to the
        configured size; past it, the distributed-claims form of ID tokens (OIDC Core
        §5.6.2)."""
        entries = claims_builder().habilitations(account, target.services)
        if len(json.dumps(entries, separators=(",", ":"))) <= config(
                "OIDC_INLINE_HABILITATIONS_MAX_BYTES"):
            return {"habilitations": entries}
        return {"_claim_names": {"habilitations": DISTRIBUTED_SOURCE},
                "_claim_sources": {DISTRIBUTED_SOURCE: {
                    "endpoint": config("ISSUER") + "/api/v1/habilitations"}}}
