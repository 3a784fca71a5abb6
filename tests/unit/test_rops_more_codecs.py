"""The codecs of RopSetMessageReadFlag, RopReloadCachedInformation, RopOpenEmbeddedMessage,
RopGetValidAttachments, RopTransportSend, RopSpoolerLockMessage, RopTransportNewMail, RopOptionsData,
RopGetPermissionsTable and RopModifyPermissions: bytes laid out field by field from MS-OXCROPS, decoded,
and encoded back to the same bytes."""
from __future__ import annotations

import pytest

from protocols.rops import decode_request_buffer, decode_response_buffer, embedded as E, encode_buffer
from protocols.rops import message as M, permissions as PM, transport as TR

H = bytes.fromhex


@pytest.mark.parametrize("raw, cls, fields", [
    (H("11 00 01 02 04"), M.SetMessageReadFlagRequest, dict(response_handle_index=1, input_handle_index=2,
                                                             read_flags=4)),
    (H("10 00 01 0000"), M.ReloadCachedInformationRequest, dict(input_handle_index=1)),
    (H("46 00 01 02 e404 02"), E.OpenEmbeddedMessageRequest, dict(code_page_id=0x04E4, open_mode_flags=2)),
    (H("52 00 03"), E.GetValidAttachmentsRequest, dict(input_handle_index=3)),
    (H("4a 00 01"), TR.TransportSendRequest, dict(input_handle_index=1)),
    (H("48 00 00 0100000000002a00 01"), TR.SpoolerLockMessageRequest, dict(message_id=0x2A000000000001,
                                                                           lock_state=1)),
    (H("51 00 00 0100000000002a00 0100000000000300 49504d2e4e6f746500 01000000"), TR.TransportNewMailRequest,
     dict(message_class="IPM.Note", message_flags=1)),
    (H("6f 00 00 534d545000 01"), TR.OptionsDataRequest, dict(address_type="SMTP", want_win32=1)),
    (H("3e 00 00 01 02"), PM.GetPermissionsTableRequest, dict(output_handle_index=1, table_flags=2)),
    (H("40 00 00 00 0100 02 0200 14007166 0000000000000000 03007366 fb070000"), PM.ModifyPermissionsRequest,
     dict(permissions_data=(PM.PermissionData(2, ((0x66710014, 0), (0x66730003, 0x7FB))),))),
])
def test_request_layouts(raw, cls, fields):
    buf = (len(raw) + 2).to_bytes(2, "little") + raw + H("ffffffff" * 4)
    rb = decode_request_buffer(buf)
    (req,) = rb.rops
    assert isinstance(req, cls)
    for k, v in fields.items():
        assert getattr(req, k) == v, k
    assert encode_buffer(rb.rops, rb.handles) == buf


@pytest.mark.parametrize("raw, asked, fields", [
    (H("11 01 00000000 01"), M.SetMessageReadFlagRequest(0, 1, 2, 0), dict(read_status_changed=1)),
    (H("10 01 00000000 00 01 04 680069000000 0000 0000 00"), M.ReloadCachedInformationRequest(0, 1),
     dict(recipient_count=0)),
    (H("46 02 00000000 00 0100000000002a00 00 00 01 0000 0000 00"), E.OpenEmbeddedMessageRequest(0, 1, 2, 0, 2),
     dict(message_id=0x2A000000000001)),
    (H("52 03 00000000 0200 00000000 01000000"), E.GetValidAttachmentsRequest(0, 3), dict(attachment_ids=(0, 1))),
    (H("4a 01 00000000 01"), TR.TransportSendRequest(0, 1), dict(no_properties_returned=1)),
    (H("4a 01 00000000 00 0100 03000e0e 01000000"), TR.TransportSendRequest(0, 1),
     dict(no_properties_returned=0, property_values=((0x0E0E0003, 1),))),
    (H("6f 00 00000000 01 0000 0000"), TR.OptionsDataRequest(0, 0, "SMTP", 1), dict(help_file=b"")),
    (H("6f 00 00000000 01 0100 aa 0200 bbcc 68656c7000"), TR.OptionsDataRequest(0, 0, "SMTP", 1),
     dict(options_info=b"\xaa", help_file=b"\xbb\xcc", help_file_name="help")),
    (H("40 00 02010480"), PM.ModifyPermissionsRequest(0, 0, 0, ()), dict(return_value=0x80040102)),
])
def test_response_layouts(raw, asked, fields):
    buf = (len(raw) + 2).to_bytes(2, "little") + raw + H("ffffffff" * 4)
    rb = decode_response_buffer(buf, [asked])
    (resp,) = rb.rops
    for k, v in fields.items():
        assert getattr(resp, k) == v, k
    assert encode_buffer(rb.rops, rb.handles) == buf
