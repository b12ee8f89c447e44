"""Secrets never leave the process: one registry of every secret read or
received (tokens, client secrets), and ``scrub`` to take them out of any text.

Each secret is registered in every form it can come back in: as given, with
surrounding blanks stripped, URL-encoded (a form body echoed by a server) and
JSON-escaped. Anything shaped like a Shopify token is redacted too, registered
or not. Remote text (response bodies, error messages) goes through ``scrub``
where it enters the process; the log pipeline and the journal scrub again.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_LENGTH = 6
_SHAPED = re.compile(r"\bshp(?:at|ca|pa|ss|ua)_[0-9A-Za-z]{16,}")

_lock = threading.Lock()
_forms: set[str] = set()


def forms(value: str) -> set[str]:
    """The ways ``value`` may show up again in text."""
    out = set()
    for v in {value, value.strip()}:
        out |= {v, quote_plus(v), quote(v, safe=""), json.dumps(v)[1:-1]}
    return {f for f in out if len(f) >= MIN_LENGTH}


def register(value: str | None) -> None:
    """Never print ``value`` again, in any of its forms."""
    if not value or len(value.strip()) < MIN_LENGTH:
        return
    with _lock:
        _forms.update(forms(value))


def scrub(text: str) -> str:
    """``text`` with every registered secret, and anything shaped like a Shopify token, redacted."""
    if not text:
        return text
    with _lock:
        known = sorted(_forms, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SHAPED.sub(REDACTED, text)
