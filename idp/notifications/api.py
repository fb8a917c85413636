"""``POST /api/v1/notifications``: a partner publishes, with its client-credentials token,
notices for the services it hosts (JSON errors as RFC 6749 §5.2 spells them)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from idp.extensions import csrf
from idp.notifications.deps import current_publisher, publishing
from idp.notifications.publishing import MAX_BATCH, PublishRefused
from idp.web import BadJsonBody, json_body

bp = Blueprint("notifications_api", __name__)
csrf.exempt(bp)  # a bearer token, not a browser's form
# A batch of MAX_BATCH notices with long bodies: room enough, and a bound.
MAX_BODY_BYTES = 24 * 1024 * 1024


def _refused(status: int, description: str, **where):
    error = "insufficient_scope" if status == 403 else "invalid_request"
    return jsonify(error=error, error_description=description, **where), status


@bp.post("/api/v1/notifications")
def publish():
    """One notice (a JSON object: ``201 {"id"}``, ``200`` when its key was published
    already) or a batch (a JSON list of up to MAX_BATCH: ``{"notifications": [{"id",
    "created"}…]}`` in the order sent); a refusal names the notice and the field."""
    publisher = current_publisher()  # a bad token is told before a bad body
    try:
        body = json_body(MAX_BODY_BYTES)
    except BadJsonBody as error:
        return _refused(error.status, error.description)
    batch = isinstance(body, list)
    if not batch and not isinstance(body, dict):
        return _refused(400, f"the body is a notification (an object) or a list of up to "
                             f"{MAX_BATCH}")
    try:
        published = publishing().publish(publisher, body if batch else [body], batch)
    except PublishRefused as refusal:
        where = {"field": refusal.field} if refusal.field else {}
        if refusal.index is not None:
            where["index"] = refusal.index
        return _refused(refusal.status, refusal.reason, **where)
    status = 201 if any(p.created for p in published) else 200
    if batch:
        return jsonify(notifications=[{"id": p.id, "created": p.created}
                                      for p in published]), status
    return jsonify(id=published[0].id), status
