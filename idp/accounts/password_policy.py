"""The password policy: one module for every form that sets a password, and for the gauge.

Default: Net-entreprises' own rule (at least 6 letters mixing upper and lower case, at least
2 digits, at most 20 characters, accented and special characters allowed). ``long`` is the
longer-is-better alternative (12–128 characters, no composition rule, common passwords
refused), as NIST SP 800-63B recommends.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l

# Published on the page: what may appear in a password besides letters and digits.
SPECIAL_CHARACTERS = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €£§µ°"

COMMON_PASSWORDS = frozenset({
    "123456789012", "motdepasse123", "motdepasse1234", "azertyuiop12", "azertyuiopqs",
    "qwertyuiop12", "password1234", "passwordpassword", "000000000000", "111111111111",
    "netentreprises", "net-entreprises", "bonjour123456", "soleil123456", "azerty123456",
    "123456azerty", "motdepassemotdepasse", "administrateur", "changezmoi123",
})


@dataclass
class Evaluation:
    """What the policy thinks of a password: accepted or not, why, and a gauge level."""

    accepted: bool
    problems: list[str] = field(default_factory=list)
    level: str = "weak"  # weak (red), medium (orange), strong (green)
    rules: list[tuple[str, bool]] = field(default_factory=list)  # (rule text, satisfied)

    def as_json(self) -> dict:
        """For the live gauge."""
        return {"accepted": self.accepted, "level": self.level,
                "problems": [str(p) for p in self.problems],
                "rules": [{"text": str(text), "ok": ok} for text, ok in self.rules]}


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def _allowed(char: str) -> bool:
    return _is_letter(char) or char.isdigit() or char in SPECIAL_CHARACTERS


class NetEntreprisesPolicy:
    """At least 6 letters mixing cases, at least 2 digits, at most 20 characters."""

    name = "net-entreprises"
    MIN_LETTERS = 6
    MIN_DIGITS = 2
    MAX_LENGTH = 20

    def evaluate(self, password: str) -> Evaluation:
        """Check every rule and grade the password."""
        letters = [c for c in password if _is_letter(c)]
        digits = sum(c.isdigit() for c in password)
        mixed = any(c.isupper() for c in letters) and any(c.islower() for c in letters)
        specials = any(not _is_letter(c) and not c.isdigit() for c in password)
        rules = [
            (_l("Au moins 6 lettres"), len(letters) >= self.MIN_LETTERS),
            (_l("Au moins 2 chiffres"), digits >= self.MIN_DIGITS),
            (_l("Au plus 20 caractères"), 0 < len(password) <= self.MAX_LENGTH),
            (_l("Mélange majuscules / minuscules"), mixed),
        ]
        problems = [text for text, ok in rules if not ok]
        bad = sorted({c for c in password if not _allowed(c)})
        if bad:
            problems.append(_l("Caractère(s) non autorisé(s) : %(chars)s",
                               chars=" ".join(bad)))
        accepted = not problems
        long_enough = len(password) >= 12 or (specials and len(password) >= 10)
        level = "weak" if not accepted else ("strong" if long_enough else "medium")
        return Evaluation(accepted, problems, level, rules)


class LongPasswordPolicy:
    """Longer is better: 12 to 128 characters, no composition rule, no common password."""

    name = "long"
    MIN_LENGTH = 12
    MAX_LENGTH = 128

    def evaluate(self, password: str) -> Evaluation:
        """Check the length and the list of common passwords."""
        rules = [
            (_l("Au moins 12 caractères"), len(password) >= self.MIN_LENGTH),
            (_l("Au plus 128 caractères"), len(password) <= self.MAX_LENGTH),
            (_l("Pas un mot de passe courant"),
             password.casefold() not in COMMON_PASSWORDS),
        ]
        problems = [text for text, ok in rules if not ok]
        accepted = not problems
        level = "weak" if not accepted else ("strong" if len(password) >= 16 else "medium")
        return Evaluation(accepted, problems, level, rules)


POLICIES = {policy.name: policy for policy in (NetEntreprisesPolicy(), LongPasswordPolicy())}


def current_policy():
    """The policy the current app is configured with (``IDP_PASSWORD_POLICY``)."""
    return POLICIES[current_app.config["PASSWORD_POLICY"]]
