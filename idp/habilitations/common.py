"""What the rules' modules share: the refusal they raise and the declarant link's validity."""

from __future__ import annotations

from datetime import timedelta

# « Dans les trois derniers mois »: the longest three consecutive months (July to September)
# count 92 days, so a DSN filed on the same day three calendar months ago still counts.
LINK_VALIDITY = timedelta(days=92)


class HabilitationRefused(Exception):
    """The rules refuse a write; ``reason`` names the rule (for views to translate)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
