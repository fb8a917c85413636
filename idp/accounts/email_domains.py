"""Which e-mail domains an account may not use: disposable ones, and those configured."""

from __future__ import annotations

DISPOSABLE_DOMAINS = frozenset({
    "yopmail.com", "yopmail.fr", "yopmail.net", "mailinator.com", "guerrillamail.com",
    "10minutemail.com", "trashmail.com", "temp-mail.org", "jetable.org", "throwawaymail.com",
    "maildrop.cc", "getnada.com", "dispostable.com", "tempmail.com", "sharklasers.com",
})


def denied_domains(configured: str | None) -> frozenset[str]:
    """The disposable domains and the comma-separated ``configured`` ones, lower-cased."""
    extra = {part.strip().lower() for part in (configured or "").split(",") if part.strip()}
    return DISPOSABLE_DOMAINS | extra


def domain_of(email: str) -> str:
    """The domain of ``email``, lower-cased."""
    return email.rpartition("@")[2].lower()
