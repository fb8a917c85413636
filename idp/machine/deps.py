"""Builds the machine authentication service of the current app."""

from __future__ import annotations

from flask import Flask, current_app

from idp.accounts.deps import authentication_service
from idp.audit.deps import audit_journal
from idp.extensions import db
from idp.habilitations.deps import habilitation_service
from idp.machine.service import JetonMinter, MachineAuthentication

_MINTER = "idp_jeton_minter"


def provide_minter(app: Flask, mint: JetonMinter) -> None:
    """The token issuer's package hands its jeton signer to this lower one (DESIGN: a lower
    package reaches a higher one's work through what it is given, never by importing it)."""
    app.extensions[_MINTER] = mint


def machine_authentication() -> MachineAuthentication:
    """Identifiants → jeton, with the form's sign-in service and limiters."""
    return MachineAuthentication(db.session, authentication_service(), habilitation_service(),
                                 audit_journal(), current_app.extensions[_MINTER])
