"""A table over a short in-memory list (a message's attachments): what the table ROPs need of a view."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ListRow:
    props: dict


class ListView:
    def __init__(self, rows: list[ListRow]):
        self._rows = rows
        self.position = 0

    def count(self) -> int:
        return len(self._rows)

    def rows(self, start: int, count: int | None) -> list[ListRow]:
        start = max(0, start)
        return self._rows[start:] if count is None else self._rows[start:start + count]
