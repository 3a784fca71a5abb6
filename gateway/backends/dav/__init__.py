"""CalDAV/CardDAV client (RFC 4791, RFC 6352, RFC 6578) implementing base.DavClient."""
from .client import DavClient, DavHttpError

__all__ = ["DavClient", "DavHttpError"]
