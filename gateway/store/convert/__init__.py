"""Conversions between wire formats and MAPI property bags (no I/O): mail (MS-OXCMAIL), rtf (MS-OXRTFCP), ical, vcard."""
