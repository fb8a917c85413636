"""The IdP's APIs for partners' back ends (RFC 6750 bearer tokens, JSON, errors in English).

* ``GET /api/v1/habilitations``: the habilitations claim of the person a token speaks for
  (the source of the distributed claim), by pages of a keyset cursor, never OFFSET.
* ``GET|POST /api/v1/habilitations/verifier``: « which rights has this account on service S
  for this SIRET (these SIRETs)? », asked by a partner for itself with a client-credentials
  token, about the services it hosts only.

Every parameter is validated before a query runs; a refusal is the RFC 6750 or RFC 6749 JSON
error (401 ``invalid_token``, 403 ``insufficient_scope``, 400 ``invalid_request``), never a
5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid

from authlib.oauth2.rfc6749 import scope_to_list
from flask import Blueprint, jsonify, request, url_for

from idp.accounts.lookup import usable_account
from idp.accounts.models import Status
from idp.extensions import csrf, db
from idp.habilitations.deps import habilitation_service
from idp.habilitations.service import ListingKey
from idp.oidc import server as oidc
from idp.oidc.clients import RegisteredClient
from idp.oidc.deps import client_registry
from idp.oidc.parameters import VSCHARS
from idp.web import BadJsonBody, json_body

bp = Blueprint("api", __name__)
csrf.exempt(bp)  # bearer tokens, not browser forms

PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
MAX_SIRETS = 1000
# 1,000 SIRETs written `"12345678901234", ` weigh 18 KB: room for indentation, no more.
MAX_BODY_BYTES = 64 * 1024
MAX_CURSOR_LENGTH = 200
MAX_ID = 2**63 - 1  # a BIGINT

PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,8}")  # ASCII digits only: not "١", " 1", "1_000"
SERVICE = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
SIRET = re.compile(r"[0-9]{14}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CURSOR = re.compile(r"[A-Za-z0-9_-]+")
PARAMETER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")
QUERY_PARAMETERS = {"api.habilitations": {"cursor", "per_page"},
                    "api.verify": {"sub", "service", "siret"}}


class Refusal(Exception):
    """A request this API answers with an error (``error`` from RFC 6749 §5.2 / 6750 §3.1)."""

    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@bp.errorhandler(Refusal)
def refused(refusal: Refusal):
    response = jsonify(error=refusal.error, error_description=refusal.description)
    response.status_code = refusal.status
    if refusal.status in (401, 403):
        # RFC 6750 §3: the challenge names the error (descriptions here are plain ASCII).
        response.headers["WWW-Authenticate"] = (
            f'Bearer error="{refusal.error}", error_description="{refusal.description}"')
    return response


@bp.before_request
def check_query():
    """Only this endpoint's parameters, each once, in printable ASCII (PostgreSQL refuses NUL;
    nothing here is anything else)."""
    allowed = QUERY_PARAMETERS.get(request.endpoint, set())
    pairs = list(request.args.items(multi=True))
    names = [name for name, _ in pairs]
    for name, value in pairs:
        if not (VSCHARS.fullmatch(name) and VSCHARS.fullmatch(value)):
            raise Refusal(400, "invalid_request",
                          "a parameter holds characters outside printable ASCII")
    if "page" in names and request.endpoint == "api.habilitations":
        raise Refusal(400, "invalid_request",
                      "'page' is replaced by 'cursor': follow 'next' from the first page")
    unknown = sorted(set(names) - allowed)
    if unknown:
        # Named back only when harmless (an error_description never holds « " » or « \ »).
        named = f" '{unknown[0]}'" if PARAMETER_NAME.fullmatch(unknown[0]) else ""
        raise Refusal(400, "invalid_request", f"unknown parameter{named}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise Refusal(400, "invalid_request", f"parameter '{repeated[0]}' given twice")


# --- the habilitations claim, page by page ----------------------------------------------

@bp.get("/api/v1/habilitations")
def habilitations():
    """The habilitations claim of the token's person, for the services its partner hosts.

    ``per_page`` (1 to 1,000, default 500) entries after ``cursor``; ``next_cursor`` and
    ``next`` (the URL of the following page) are there while entries remain. The order is
    ``listing``'s; a SIREN-wide right is one entry.
    """
    token = oidc.access_token("habilitations")
    account = usable_account(db.session, token["sub"])
    if account is None:
        oidc.refuse_token()
    per_page = request.args.get("per_page", str(PAGE_SIZE))
    if not PAGE_NUMBER.fullmatch(per_page) or int(per_page) > MAX_PAGE_SIZE:
        raise Refusal(400, "invalid_request", f"per_page is from 1 to {MAX_PAGE_SIZE}")
    per_page = int(per_page)
    after = decode_cursor(request.args["cursor"]) if "cursor" in request.args else None
    client = client_registry().find(token["client_id"])
    services = client.services if client else frozenset()
    entries, last = [], None
    if services and account.status is Status.ACTIVE:  # a candidate has no rights yet
        entries, last = habilitation_service().listing_after(account.id, services, after,
                                                             per_page)
    body = {"habilitations": entries}
    if last is not None:
        body["next_cursor"] = encode_cursor(last)
        body["next"] = url_for("api.habilitations", cursor=body["next_cursor"],
                               per_page=per_page)
    return jsonify(body)


def encode_cursor(key: ListingKey) -> str:
    """The position, opaque to partners: base64url (unpadded) of a JSON array."""
    raw = json.dumps([key.service, int(key.implied), key.habilitation_id, key.siret],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> ListingKey:
    """The position ``encode_cursor`` wrote, or ``Refusal``: anything else is refused whole."""
    bad = Refusal(400, "invalid_request", "the cursor is not one this API gave")
    if len(cursor) > MAX_CURSOR_LENGTH or not CURSOR.fullmatch(cursor):
        raise bad
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise bad from None
    if not (isinstance(value, list) and len(value) == 4):
        raise bad
    service, implied, habilitation_id, siret = value
    if not (isinstance(service, str) and SERVICE.fullmatch(service)
            and type(implied) is int and implied in (0, 1)
            and type(habilitation_id) is int and 0 < habilitation_id <= MAX_ID
            and isinstance(siret, str) and (siret == "" or SIRET.fullmatch(siret))):
        raise bad
    return ListingKey(service, bool(implied), habilitation_id, siret)


# --- the check, for partners ------------------------------------------------------------

@bp.get("/api/v1/habilitations/verifier")
def verify():
    """``{"sub", "service", "siret", "rights"}`` for one SIRET."""
    service = _hosted(_partner(), request.args.get("service"))
    sub = _sub(request.args.get("sub"))
    siret = request.args.get("siret")
    if siret is None or not SIRET.fullmatch(siret):
        raise Refusal(400, "invalid_request", "siret is 14 ASCII digits")
    rights = _rights(sub, service, [siret])
    return jsonify(sub=str(sub), service=service, siret=siret, rights=rights[siret])


@bp.post("/api/v1/habilitations/verifier")
def verify_many():
    """``{"sub", "service", "results": [{"siret", "rights"}…]}`` for a JSON body
    ``{"sub", "service", "sirets": [up to 1,000]}``, results in the order asked."""
    client = _partner()  # a bad token is told before a bad body
    body = _json_body()
    if set(body) != {"sub", "service", "sirets"}:
        raise Refusal(400, "invalid_request",
                      "the body is a JSON object with exactly sub, service and sirets")
    service = _hosted(client, body["service"])
    sub = _sub(body["sub"])
    sirets = body["sirets"]
    if not isinstance(sirets, list) or not 1 <= len(sirets) <= MAX_SIRETS:
        raise Refusal(400, "invalid_request", f"sirets is a list of 1 to {MAX_SIRETS} SIRETs")
    if not all(isinstance(siret, str) and SIRET.fullmatch(siret) for siret in sirets):
        raise Refusal(400, "invalid_request", "each SIRET is 14 ASCII digits")
    rights = _rights(sub, service, sirets)
    return jsonify(sub=str(sub), service=service,
                   results=[{"siret": siret, "rights": rights[siret]} for siret in sirets])


def _partner() -> RegisteredClient:
    """The partner whose own token (client credentials: no person) the request carries."""
    token = oidc.access_token()  # 401 invalid_token (missing, forged, expired, revoked)
    client = client_registry().find(token["client_id"])
    if client is None or token["sub"] != token["client_id"]:
        raise Refusal(401, "invalid_token",
                      "this API takes a partner's client credentials token, not a person's")
    if "habilitations" not in scope_to_list(token.get("scope") or ""):
        raise Refusal(403, "insufficient_scope", "the token lacks the habilitations scope")
    return client


def _hosted(client: RegisteredClient, service) -> str:
    """``service`` if it is a service code the partner hosts."""
    if not isinstance(service, str) or not SERVICE.fullmatch(service):
        raise Refusal(400, "invalid_request", "service is an uppercase service code")
    if service not in client.services:
        raise Refusal(403, "insufficient_scope", "the client does not host this service")
    return service


def _sub(sub) -> uuid.UUID:
    if not isinstance(sub, str) or not UUID_TEXT.fullmatch(sub):
        raise Refusal(400, "invalid_request", "sub is an account id (a lowercase UUID)")
    return uuid.UUID(sub)


def _json_body() -> dict:
    try:
        body = json_body(MAX_BODY_BYTES)
    except BadJsonBody as error:
        # 415 is told as 400 here, as this API always did.
        raise Refusal(413 if error.status == 413 else 400, "invalid_request",
                      error.description) from None
    if not isinstance(body, dict):
        raise Refusal(400, "invalid_request", "the body is a JSON object")
    return body


def _rights(sub: uuid.UUID, service: str, sirets: list[str]) -> dict[str, list[str]]:
    """The rights' names per SIRET. An unknown account, or one that may not act (pending,
    candidate, locked, removed), has none: the answer does not tell which."""
    account = usable_account(db.session, sub)
    if account is None or account.status is not Status.ACTIVE:
        return {siret: [] for siret in sirets}
    # One statement for the whole list (the check's three index probes, each with the list),
    # not one round trip per SIRET.
    rights = habilitation_service().rights_on_many(account.id, service, sirets)
    return {siret: mask.names() for siret, mask in rights.items()}
