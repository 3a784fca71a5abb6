"""Offline address book files (MS-OXOAB, MS-OXWOAB), sans I/O.

- ``details``: the uncompressed OAB version 4 Full Details file (MS-OXOAB 2.9): OAB_HDR,
  OAB_META_DATA with the header and object property tables, OAB_V4_REC records with their presence
  bit arrays and value encodings (2.9.6). A writer that takes records one at a time and a reader that
  yields them one at a time, so 10,000 entries are never held twice.
- ``lzx``: the compressed file framing: LZX_HDR/LZX_BLK of a compressed Full Details file and
  PATCH_HDR/PATCH_BLK of a version 4 differential patch file (MS-OXOAB 2.10), stored or LZX blocks.
- ``lzxcodec``: LZX DELTA, our own: a compressor (verbatim blocks, matches into a patch's source
  block) and a decompressor (verbatim, aligned-offset and uncompressed blocks, E8 translation).
- ``manifest``: ``oab.xml`` (MS-OXWOAB): OAB, OAL, Full/Diff/Template entries.
"""
from __future__ import annotations

from .details import (OabError, OabFile, OabHeader, PropRec, Record, decode_details, encode_details,
                      DetailsWriter, iter_details)
from .lzx import (LzxUnsupported, compress, decompress, make_patch, apply_patch, read_lzx_header,
                  read_patch_header)
from .manifest import Manifest, OalEntry, FileEntry

__all__ = ["OabError", "OabFile", "OabHeader", "PropRec", "Record", "decode_details", "encode_details",
           "DetailsWriter", "iter_details", "LzxUnsupported", "compress", "decompress", "make_patch",
           "apply_patch", "read_lzx_header", "read_patch_header", "Manifest", "OalEntry", "FileEntry"]
