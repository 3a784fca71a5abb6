"""NTLM and Negotiate over HTTP: placeholder until ntlm.py lands."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Outcome:
    user: object | None
    reason: str = ""
    challenge: list[str] | None = None
    final_header: str | None = None


async def step(auth, request, scheme: str, token: str, addr: str | None) -> Outcome:
    return Outcome(None, "NTLM is not available yet")
