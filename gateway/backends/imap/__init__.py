"""IMAP backend: an asyncio client for the store (see client.py for the
extension/fallback table and connection.py for why it has its own protocol code)."""
from gateway.backends.imap.client import ImapBackendClient, ImapWatcher, connect
from gateway.backends.imap.connection import ConnectionLost, ImapConnection, ImapError

__all__ = ["connect", "ImapBackendClient", "ImapWatcher", "ImapConnection", "ImapError", "ConnectionLost"]
