"""A logging filter that keeps credentials and hashes out of every log line.

Installed on the root logger's handlers by the app (and usable on any
handler). It rewrites the formatted message of each record: Authorization /
WWW-Authenticate header values, Basic/NTLM/Negotiate tokens, ``password=``
style pairs and 32-hex-digit NT hashes become ``<redacted>``.
"""
from __future__ import annotations

import logging
import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # header lines, in dict reprs too: 'Authorization': 'NTLM TlRM...'
    (re.compile(r"(?i)((?:proxy-)?authorization|www-authenticate|x-exgate-[a-z-]*token|x-exgate-forwarded-user)"
                r"(['\"]?\s*[:=]\s*['\"]?)"
                r"[^'\"\r\n,}]+"), r"\1\2<redacted>"),
    (re.compile(r"(?i)\b(basic|ntlm|negotiate|bearer)\s+[A-Za-z0-9+/=._-]{8,}"), r"\1 <redacted>"),
    (re.compile(r"TlRMTVNTUA[A-Za-z0-9+/=]*"), "<redacted>"),          # base64 of "NTLMSSP\0"
    (re.compile(r"(?i)(pass(?:word|wd)?|pwd|secret|nt_?hash|token)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&}]+"),
     r"\1\2<redacted>"),
    (re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])"), "<redacted>"),   # NT/LM hashes, MD5s
)


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:      # a broken format string is logging's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactSecrets()


def install_log_redaction(logger: logging.Logger | None = None) -> RedactSecrets:
    """Attach the filter to the handlers of ``logger`` (root by default) and to the logger itself."""
    target = logger or logging.getLogger()
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)
    for h in target.handlers:
        if _FILTER not in h.filters:
            h.addFilter(_FILTER)
    return _FILTER
