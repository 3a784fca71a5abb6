"""Contents tables: the per-folder summary index in the state database and views over it.

``columns`` says which properties are index columns, ``rows`` reads rows (summary + flags + overlay
+ ids), ``sql`` compiles MAPI restrictions and sort orders onto the columns, ``view`` is the table a
front end reads a window at a time (EWS FindItem, ROP QueryRows).
"""
from .view import ContentsView

__all__ = ["ContentsView"]
