"""How often and how long a send the SMTP server cannot take now is tried again (the Outbox queue,
outbox.py). Apart so that opening a mailbox (factory.py) can give it its policy without importing the
Outbox worker, which itself opens mailboxes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.config import Config

DEFAULT_SCHEDULE = (60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)
DEFAULT_WINDOW = 24 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE   # seconds before try 2, 3, ...; the last one repeats
    window: float = DEFAULT_WINDOW                   # seconds after the first try when it gives up

    def delay(self, tries_done: int) -> float:
        """Seconds to wait after ``tries_done`` (>= 1) failed tries."""
        return self.schedule[min(max(tries_done, 1), len(self.schedule)) - 1]

    @classmethod
    def from_config(cls, cfg: "Config") -> "RetryPolicy":
        return cls(tuple(float(d) for d in cfg.smtp.retry_schedule) or DEFAULT_SCHEDULE,
                   float(cfg.smtp.retry_window))
