"""One exception root for everything Shopify: the daemon retries a
``TransientError`` later and quarantines on a ``PermanentError``; it reads
the decision off the type, never off the message."""

from __future__ import annotations


class PublishError(Exception):
    """Publishing failed. ``permanent`` says whether trying again can help."""

    permanent: bool = False


class TransientError(PublishError):
    """Try again later: Shopify was slow, down, throttling, or unreachable."""

    permanent = False


class AmbiguousError(TransientError):
    """A mutation was sent but no answer came back (a timeout, a dropped
    connection, a 5xx): it may or may not have taken effect, so the publish flow
    looks for its result before sending it again."""


class PermanentError(PublishError):
    """Retrying cannot help until someone changes something."""

    permanent = True


class AuthError(PermanentError):
    """The token is missing, invalid, or lacks an access scope."""

    def __init__(self, message: str, scope: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope


class GraphQLError(PermanentError):
    """Shopify refused the request itself (a query error, a user error)."""


class MediaFailed(PermanentError):
    """Shopify could not process the uploaded image; the message is Shopify's."""
