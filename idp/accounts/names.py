"""How names compare at sign-in: case- and accent-insensitively."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Apostrophes and dashes come in several Unicode forms from keyboards and copy-paste.
_FOLD = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "‐": "-", "‑": "-", "–": "-", "—": "-"})


def name_key(name: str) -> str:
    """Fold ``name`` so that « Lefèvre », « LEFEVRE » and « lefevre » give the same key."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_FOLD))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare).strip().casefold()


def login_key(siret: str, last_name: str, first_name: str) -> str:
    """The login triple as one folded key: what limiters and decoys are keyed by."""
    return "|".join((siret, name_key(last_name), name_key(first_name)))
