"""Builds the current app's delivery queue; features register the kinds they deliver."""

from __future__ import annotations

from flask import Flask, current_app

from idp.delivery.queue import Backoff, DeliveryQueue, Handler
from idp.extensions import app_clock, db

HANDLERS = "idp_delivery_handlers"


def register_handler(app: Flask, kind: str, handler: Handler) -> None:
    """Let ``handler(payload)`` make ``app``'s deliveries of ``kind`` (called by the worker,
    inside an app context; raising means « try again later »)."""
    app.extensions.setdefault(HANDLERS, {})[kind] = handler


def delivery_queue() -> DeliveryQueue:
    """The current app's queue of deliveries."""
    config = current_app.config
    backoff = Backoff(float(config["DELIVERY_RETRY_FIRST_SECONDS"]),
                      float(config["DELIVERY_RETRY_MAX_SECONDS"]),
                      int(config["DELIVERY_MAX_ATTEMPTS"]))
    return DeliveryQueue(db.session, app_clock(), backoff, current_app.extensions[HANDLERS])
