"""Calendar named properties: PSETID_Appointment, PSETID_Meeting and the
PSETID_Common / PS_PUBLIC_STRINGS ones the calendar needs (MS-OXPROPS 2.x,
meanings in MS-OXOCAL 2.2)."""
from __future__ import annotations

from ..types import PropType as T
from .named import PS_PUBLIC_STRINGS, PSETID, lid, name

_A = PSETID.Appointment
_M = PSETID.Meeting
_C = PSETID.Common

# --- PSETID_Appointment (MS-OXOCAL 2.2.1) ---
PidLidSendMeetingAsIcal = lid(_A, 0x8200, T.Boolean)
PidLidAppointmentSequence = lid(_A, 0x8201, T.Integer32)
PidLidAppointmentSequenceTime = lid(_A, 0x8202, T.Time)
PidLidAppointmentLastSequence = lid(_A, 0x8203, T.Integer32)
PidLidChangeHighlight = lid(_A, 0x8204, T.Integer32)
PidLidBusyStatus = lid(_A, 0x8205, T.Integer32)
PidLidFExceptionalBody = lid(_A, 0x8206, T.Boolean)
PidLidAppointmentAuxiliaryFlags = lid(_A, 0x8207, T.Integer32)
PidLidLocation = lid(_A, 0x8208, T.String)
PidLidMeetingWorkspaceUrl = lid(_A, 0x8209, T.String)
PidLidForwardInstance = lid(_A, 0x820A, T.Boolean)
PidLidLinkedTaskItems = lid(_A, 0x820C, T.MultipleBinary)
PidLidAppointmentStartWhole = lid(_A, 0x820D, T.Time)
PidLidAppointmentEndWhole = lid(_A, 0x820E, T.Time)
PidLidAppointmentStartTime = lid(_A, 0x820F, T.Time)
PidLidAppointmentEndTime = lid(_A, 0x8210, T.Time)
PidLidAppointmentEndDate = lid(_A, 0x8211, T.Time)
PidLidAppointmentStartDate = lid(_A, 0x8212, T.Time)
PidLidAppointmentDuration = lid(_A, 0x8213, T.Integer32)
PidLidAppointmentColor = lid(_A, 0x8214, T.Integer32)
PidLidAppointmentSubType = lid(_A, 0x8215, T.Boolean)
PidLidAppointmentRecur = lid(_A, 0x8216, T.Binary)
PidLidAppointmentStateFlags = lid(_A, 0x8217, T.Integer32)
PidLidResponseStatus = lid(_A, 0x8218, T.Integer32)
PidLidAppointmentReplyTime = lid(_A, 0x8220, T.Time)
PidLidRecurring = lid(_A, 0x8223, T.Boolean)
PidLidIntendedBusyStatus = lid(_A, 0x8224, T.Integer32)
PidLidAppointmentUpdateTime = lid(_A, 0x8226, T.Time)
PidLidExceptionReplaceTime = lid(_A, 0x8228, T.Time)
PidLidFInvited = lid(_A, 0x8229, T.Boolean)
PidLidFExceptionalAttendees = lid(_A, 0x822B, T.Boolean)
PidLidOwnerName = lid(_A, 0x822E, T.String)
PidLidFOthersAppointment = lid(_A, 0x822F, T.Boolean)
PidLidAppointmentReplyName = lid(_A, 0x8230, T.String)
PidLidRecurrenceType = lid(_A, 0x8231, T.Integer32)
PidLidRecurrencePattern = lid(_A, 0x8232, T.String)
PidLidTimeZoneStruct = lid(_A, 0x8233, T.Binary)
PidLidTimeZoneDescription = lid(_A, 0x8234, T.String)
PidLidClipStart = lid(_A, 0x8235, T.Time)
PidLidClipEnd = lid(_A, 0x8236, T.Time)
PidLidOriginalStoreEntryId = lid(_A, 0x8237, T.Binary)
PidLidAllAttendeesString = lid(_A, 0x8238, T.String)
PidLidAutoFillLocation = lid(_A, 0x823A, T.Boolean)
PidLidToAttendeesString = lid(_A, 0x823B, T.String)
PidLidCcAttendeesString = lid(_A, 0x823C, T.String)
PidLidConferencingCheck = lid(_A, 0x8240, T.Boolean)
PidLidConferencingType = lid(_A, 0x8241, T.Integer32)
PidLidDirectory = lid(_A, 0x8242, T.String)
PidLidOrganizerAlias = lid(_A, 0x8243, T.String)
PidLidAutoStartCheck = lid(_A, 0x8244, T.Boolean)
PidLidAllowExternalAttendees = lid(_A, 0x8246, T.Boolean)
PidLidCollaborateDoc = lid(_A, 0x8247, T.String)
PidLidNetShowUrl = lid(_A, 0x8248, T.String)
PidLidOnlinePassword = lid(_A, 0x8249, T.String)
PidLidAppointmentProposedStartWhole = lid(_A, 0x8250, T.Time)
PidLidAppointmentProposedEndWhole = lid(_A, 0x8251, T.Time)
PidLidAppointmentProposedDuration = lid(_A, 0x8256, T.Integer32)
PidLidAppointmentCounterProposal = lid(_A, 0x8257, T.Boolean)
PidLidAppointmentProposalNumber = lid(_A, 0x8259, T.Integer32)
PidLidAppointmentNotAllowPropose = lid(_A, 0x825A, T.Boolean)
PidLidAppointmentUnsendableRecipients = lid(_A, 0x825D, T.Binary)
PidLidAppointmentTimeZoneDefinitionStartDisplay = lid(_A, 0x825E, T.Binary)
PidLidAppointmentTimeZoneDefinitionEndDisplay = lid(_A, 0x825F, T.Binary)
PidLidAppointmentTimeZoneDefinitionRecur = lid(_A, 0x8260, T.Binary)
PidLidInboundICalStream = lid(_A, 0x827A, T.Binary)
PidLidSingleBodyICal = lid(_A, 0x827B, T.Boolean)

# --- PSETID_Meeting (MS-OXOCAL 2.2.1, 2.2.6) ---
PidLidAttendeeCriticalChange = lid(_M, 0x0001, T.Time)
PidLidWhere = lid(_M, 0x0002, T.String)
PidLidGlobalObjectId = lid(_M, 0x0003, T.Binary)
PidLidIsSilent = lid(_M, 0x0004, T.Boolean)
PidLidIsRecurring = lid(_M, 0x0005, T.Boolean)
PidLidRequiredAttendees = lid(_M, 0x0006, T.String)
PidLidOptionalAttendees = lid(_M, 0x0007, T.String)
PidLidResourceAttendees = lid(_M, 0x0008, T.String)
PidLidDelegateMail = lid(_M, 0x0009, T.Boolean)
PidLidIsException = lid(_M, 0x000A, T.Boolean)
PidLidSingleInvite = lid(_M, 0x000B, T.Boolean)
PidLidTimeZone = lid(_M, 0x000C, T.Integer32)
PidLidStartRecurrenceDate = lid(_M, 0x000D, T.Integer32)
PidLidStartRecurrenceTime = lid(_M, 0x000E, T.Integer32)
PidLidEndRecurrenceDate = lid(_M, 0x000F, T.Integer32)
PidLidEndRecurrenceTime = lid(_M, 0x0010, T.Integer32)
PidLidDayInterval = lid(_M, 0x0011, T.Integer16)
PidLidMonthOfYearMask = lid(_M, 0x0017, T.Integer32)
PidLidOldRecurrenceType = lid(_M, 0x0018, T.Integer16)
PidLidOwnerCriticalChange = lid(_M, 0x001A, T.Time)
PidLidCalendarType = lid(_M, 0x001C, T.Integer32)
PidLidAllAttendeesList = lid(_M, 0x001D, T.String)
PidLidCleanGlobalObjectId = lid(_M, 0x0023, T.Binary)
PidLidAppointmentMessageClass = lid(_M, 0x0024, T.String)
PidLidMeetingType = lid(_M, 0x0026, T.Integer32)
PidLidOldLocation = lid(_M, 0x0028, T.String)
PidLidOldWhenStartWhole = lid(_M, 0x0029, T.Time)
PidLidOldWhenEndWhole = lid(_M, 0x002A, T.Time)

# --- PSETID_Common, the ones named.py does not define (MS-OXORMDR, MS-OXCMSG) ---
PidLidReminderTimeDate = lid(_C, 0x8505, T.Time)
PidLidAgingDontAgeMe = lid(_C, 0x850E, T.Boolean)
PidLidReminderOverride = lid(_C, 0x851C, T.Boolean)
PidLidReminderType = lid(_C, 0x851D, T.Integer32)
PidLidReminderPlaySound = lid(_C, 0x851E, T.Boolean)
PidLidReminderFileParameter = lid(_C, 0x851F, T.String)
PidLidCompanies = lid(_C, 0x8539, T.MultipleString)
PidLidContacts = lid(_C, 0x853A, T.MultipleString)
PidLidNonSendableTo = lid(_C, 0x8536, T.String)
PidLidNonSendableCc = lid(_C, 0x8537, T.String)

# --- PS_PUBLIC_STRINGS calendar names (MS-XWDCAL via MS-OXPROPS 2.4xx) ---
# RDATE has no place in PidLidAppointmentRecur; keeping it here lets it survive a round trip.
PidNameICalendarRecurrenceDate = name(PS_PUBLIC_STRINGS, "urn:schemas:calendar:rdate", T.MultipleTime)
PidNameCalendarUid = name(PS_PUBLIC_STRINGS, "urn:schemas:calendar:uid", T.String)

# --- values ---
# PidLidBusyStatus / PidLidIntendedBusyStatus (MS-OXOCAL 2.2.1.2)
olFree, olTentative, olBusy, olOutOfOffice, olWorkingElsewhere = 0, 1, 2, 3, 4
# PidLidAppointmentStateFlags (MS-OXOCAL 2.2.1.10)
asfMeeting, asfReceived, asfCanceled = 0x1, 0x2, 0x4
# PidLidResponseStatus and PidTagRecipientTrackStatus (MS-OXOCAL 2.2.1.11, 2.2.4.10.2)
respNone, respOrganized, respTentative, respAccepted, respDeclined, respNotResponded = 0, 1, 2, 3, 4, 5
# PidTagRecipientFlags (MS-OXOCAL 2.2.4.10.1)
recipSendable, recipOrganizer, recipExceptionalResponse, recipExceptionalDeleted, recipOriginal = (
    0x1, 0x2, 0x10, 0x20, 0x100)
# PidLidMeetingType (MS-OXOCAL 2.2.6.5)
mtgEmpty, mtgRequest, mtgFull, mtgInfo, mtgOutOfDate, mtgDelegatorCopy = (
    0x0, 0x1, 0x10000, 0x20000, 0x80000, 0x100000)
# PidLidRecurrenceType (MS-OXOCAL 2.2.1.45)
rectypeNone, rectypeDaily, rectypeWeekly, rectypeMonthly, rectypeYearly = 0, 1, 2, 3, 4
# PidTagAttachmentFlags afException (MS-OXCMSG 2.2.2.18)
afException = 0x2
# PidTagSensitivity (MS-OXCMSG 2.2.1.13)
SENSITIVITY_NONE, SENSITIVITY_PERSONAL, SENSITIVITY_PRIVATE, SENSITIVITY_CONFIDENTIAL = 0, 1, 2, 3
# PidTagImportance (MS-OXCMSG 2.2.1.11)
IMPORTANCE_LOW, IMPORTANCE_NORMAL, IMPORTANCE_HIGH = 0, 1, 2

# Message classes (MS-OXOCAL 2.2.6.1 / 2.2.7 / 2.2.8 / 2.2.10.1.2)
CLASS_APPOINTMENT = "IPM.Appointment"
CLASS_MEETING_REQUEST = "IPM.Schedule.Meeting.Request"
CLASS_MEETING_CANCELED = "IPM.Schedule.Meeting.Canceled"
CLASS_RESP_POS = "IPM.Schedule.Meeting.Resp.Pos"
CLASS_RESP_NEG = "IPM.Schedule.Meeting.Resp.Neg"
CLASS_RESP_TENT = "IPM.Schedule.Meeting.Resp.Tent"
CLASS_EXCEPTION = "IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}"
