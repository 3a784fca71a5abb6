"""FID/MID, XID, PCL and EntryID layouts (MS-OXCDATA 2.2.1, 2.2.4; MS-OXCFXICS 2.2.2)."""
import uuid

import pytest

from protocols.mapi import ids


def test_folder_id_wire_layout():
    # ReplicaId 0x0001 little-endian, then GLOBCNT 0x00000000000D big-endian (MS-OXCDATA 2.2.1.1)
    fid = ids.make_id(1, 0x0D)
    assert fid.to_bytes(8, "little").hex() == "01000000000000" + "0d"
    assert ids.split_id(fid) == (1, 0x0D)
    big = ids.make_id(1, 0x123456789ABC)
    assert big.to_bytes(8, "little").hex() == "0100123456789abc"
    assert ids.split_id(big) == (1, 0x123456789ABC)


def test_globcnt_range():
    with pytest.raises(ids.IdError):
        ids.make_id(1, 1 << 48)


def test_xid_and_pcl():
    g1 = uuid.UUID("11111111-2222-3333-4444-555555555555")
    g2 = uuid.UUID("01111111-2222-3333-4444-555555555555")
    x1, x2 = ids.xid(g1, 5), ids.xid(g2, 7)
    assert len(x1) == 22 and ids.parse_xid(x1) == (g1, 5)
    pcl = ids.encode_pcl([x1, x2])
    assert pcl[0] == 22 and len(pcl) == 46
    assert set(ids.decode_pcl(pcl)) == {x1, x2}
    newer = ids.xid(g1, 9)
    merged = ids.merge_pcl(pcl, newer)
    assert set(ids.decode_pcl(merged)) == {newer, x2}
    with pytest.raises(ids.IdError):
        ids.decode_pcl(b"\x16abc")


def test_entryids_round_trip_and_sizes():
    mbx, db = uuid.uuid4(), uuid.uuid4()
    f = ids.FolderEntryId(mbx, ids.eitLTPrivateFolder, db, 0x0D)
    raw = f.encode()
    assert len(raw) == 46 and raw[:4] == b"\0\0\0\0" and raw[20:22] == b"\x01\x00"
    assert ids.FolderEntryId.decode(raw) == f
    m = ids.MessageEntryId(mbx, ids.eitLTPrivateMessage, db, 0x0D, db, 0x1234)
    raw = m.encode()
    assert len(raw) == 70 and raw[20:22] == b"\x07\x00"
    assert ids.MessageEntryId.decode(raw) == m
    with pytest.raises(ids.IdError):
        ids.FolderEntryId.decode(raw)
