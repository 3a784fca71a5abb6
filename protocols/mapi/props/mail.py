"""Mail conversion properties not in core (MS-OXPROPS; used by MS-OXCMAIL, MS-OXOMSG, MS-OXOFLAG)."""
from __future__ import annotations

from ..types import PropType as T, make_tag as _t
from .named import PS_INTERNET_HEADERS, name

# read receipts (MS-OXOMSG 2.2.1.24-2.2.1.30)
PidTagReadReceiptName = _t(0x002B, T.String)
PidTagReadReceiptAddressType = _t(0x4029, T.String)
PidTagReadReceiptEmailAddress = _t(0x402A, T.String)
PidTagReadReceiptSmtpAddress = _t(0x5D05, T.String)
PidTagNonReceiptNotificationRequested = _t(0x0C06, T.Boolean)

# body and attachment extras (MS-OXCMSG 2.2.1.58, 2.2.2)
PidTagBodyContentId = _t(0x1015, T.String)
PidTagBodyContentLocation = _t(0x1014, T.String)
PidTagAttachContentBase = _t(0x3711, T.String)
PidTagAttachMimeSequence = _t(0x3710, T.Integer32)

# report messages (MS-OXOMSG 2.2.2)
PidTagReportText = _t(0x1001, T.String)
PidTagOriginalMessageClass = _t(0x004B, T.String)
PidTagReportDisposition = _t(0x0080, T.String)
PidTagReportDispositionMode = _t(0x0081, T.String)

# MS-OXCMAIL 2.2.3.2.15: Content-Class header
PidNameContentClass = name(PS_INTERNET_HEADERS, "Content-Class", T.String)
# MS-OXCMAIL 2.1.3.2.x / 2.2.3.2.x: headers without a tagged home live in PS_INTERNET_HEADERS
PidNameContentType = name(PS_INTERNET_HEADERS, "Content-Type", T.String)
PidNameAcceptLanguage = name(PS_INTERNET_HEADERS, "Accept-Language", T.String)

# PidTagAttachFlags bits (MS-OXCMSG 2.2.2.18)
ATT_INVISIBLE_IN_HTML = 0x1
ATT_INVISIBLE_IN_RTF = 0x2
ATT_MHTML_REF = 0x4  # attRenderedInBody

# PidTagNativeBody values (MS-OXCMSG 2.2.1.49.2)
NATIVE_BODY_UNDEFINED = 0
NATIVE_BODY_PLAIN = 1
NATIVE_BODY_RTF = 2
NATIVE_BODY_HTML = 3
NATIVE_BODY_CLEARSIGNED = 4

# PidTagImportance (MS-OXCMSG 2.2.1.11), PidTagSensitivity (2.2.1.13)
IMPORTANCE_LOW, IMPORTANCE_NORMAL, IMPORTANCE_HIGH = 0, 1, 2
SENSITIVITY_NORMAL, SENSITIVITY_PERSONAL, SENSITIVITY_PRIVATE, SENSITIVITY_CONFIDENTIAL = 0, 1, 2, 3

# PidTagFollowupIcon (MS-OXOFLAG 2.2.1.2), PidTagToDoItemFlags (2.2.1.9), PidTagIconIndex (MS-OXOMSG 2.2.1.10)
FOLLOWUP_ICON_RED = 6
TODO_TIME_FLAGGED = 0x1
ICON_MAIL_READ = 0x100
ICON_MAIL_UNREAD = 0xFFFFFFFF
ICON_MAIL_REPLIED = 0x105
ICON_MAIL_FORWARDED = 0x106

# PidTagRecipientFlags (MS-OXOMSG 2.2.3.1) and PidTagDisplayType (MS-OXOABK 2.2.3.11)
RECIP_SENDABLE = 0x1
DT_MAILUSER = 0
