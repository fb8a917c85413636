"""Who may open the administrator space: an active administrator of the company."""

from __future__ import annotations

from functools import wraps

from flask import abort

from idp.accounts.login import current_account, login_required


def admin_required(view):
    """Anonymous visitors sign in first; anyone but an active administrator gets a 403.

    « Active administrator » is ``Account.is_active_administrator``, the definition the
    services check too: a candidate (registered, not yet accepted) is not one.
    """

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_account().is_active_administrator:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
