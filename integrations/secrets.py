"""Secrets never leave the process.

One registry for the whole process: every access token and client secret is
``register``-ed the moment it is read or received, in every form it can take
on the way out (as read, stripped, URL-encoded as in a form body, escaped as
in a JSON string). ``scrub`` replaces each of them with ``[REDACTED]``, and
also anything shaped like a Shopify token, registered or not, so text that
came back from a server (a 4xx body echoing the request's headers, a GraphQL
message) can be put into an exception, the journal or a printed line safely.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
MIN_LENGTH = 6  # shorter values would redact ordinary words
# shpat_ (admin token), shpca_ (custom app), shppa_ (private app), shpss_ (shared secret), shpua_ (user)
TOKEN_SHAPE = re.compile(r"shp(?:at|ca|pa|ss|ua)_[A-Za-z0-9]{16,}")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


class Registry:
    """Every form of every registered secret, matched by one compiled pattern
    (rebuilt on each ``register``, which is rare; ``scrub`` runs per log line)."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, value: str | None) -> None:
        forms = _forms(value)
        if not forms:
            return
        with self._lock:
            if forms <= self._forms:
                return
            self._forms |= forms
            # longest first, so a secret's longer form is replaced whole
            ordered = sorted(self._forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def scrub(self, text: object) -> str:
        if text is None:
            return ""
        text = text if isinstance(text, str) else str(text)
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return TOKEN_SHAPE.sub(REDACTED, text)

    def clear(self) -> None:
        """Forget every secret (tests only)."""
        with self._lock:
            self._forms.clear()
            self._pattern = None


def _forms(value: str | None) -> set[str]:
    """``value`` as read and stripped, each also URL-encoded (form body, query
    string; upper- and lower-case escapes) and JSON-escaped."""
    if not value:
        return set()
    out: set[str] = set()
    for base in {value, value.strip()}:
        if len(base) < MIN_LENGTH:
            continue
        for form in (base, quote_plus(base), quote(base, safe=""),
                     json.dumps(base)[1:-1], json.dumps(base, ensure_ascii=False)[1:-1]):
            out.add(form)
            out.add(_PERCENT.sub(lambda m: m.group(0).lower(), form))
    return out


REGISTRY = Registry()


def register(value: str | None) -> None:
    """Never let ``value`` out of the process again (an access token, a client secret)."""
    REGISTRY.register(value)


def scrub(text: object) -> str:
    """``text`` with every registered secret, and anything shaped like a Shopify token, redacted."""
    return REGISTRY.scrub(text)
