"""What a protocol parameter may look like, shared by the OIDC endpoints, the APIs and the
widget's framed pages."""

from __future__ import annotations

import re

# RFC 6749 Appendix A: every OAuth parameter is made of VSCHAR (printable ASCII) or less.
VSCHARS = re.compile(r"[\x20-\x7e]*")
MAX_AGE = re.compile(r"[0-9]{1,10}")  # seconds, in ASCII digits (not "²" nor "١")
