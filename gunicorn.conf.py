"""gunicorn reads this file from the working directory by default.

The embedded default keeps sessions, codes and limiter counters in the memory of one process:
with several workers they would be split between processes and break silently. So several
workers without IDP_REDIS_URL are refused before any starts.
"""

import os
import sys


def on_starting(server):
    """Refuse several workers on the in-process store."""
    serves_idp = getattr(server.app, "app_uri", None) in ("wsgi:app", "wsgi")
    if serves_idp and server.cfg.workers > 1 and not os.environ.get("IDP_REDIS_URL"):
        sys.stderr.write(
            "Le stockage en mémoire (défaut embarqué) ne sert qu'un processus : lancez un "
            "seul worker (--workers 1, avec --threads pour la concurrence) ou définissez "
            "IDP_REDIS_URL pour partager sessions et compteurs entre workers.\n")
        raise SystemExit(1)
