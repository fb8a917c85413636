"""Builds the widget's services of the current app with their dependencies injected."""

from __future__ import annotations

from idp.extensions import app_clock, store
from idp.widget.transactions import WidgetTransactions


def transactions() -> WidgetTransactions:
    """Framed sign-in transactions, in the shared store."""
    return WidgetTransactions(store.get(), app_clock())
