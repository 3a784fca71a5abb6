"""Tagged (fixed-id) properties used by the store and the front ends (MS-OXPROPS 2.x).

Only ids and types live here; what they mean is in MS-OXPROPS and the
MS-OXC* spec named in the comment of each group.
"""
from __future__ import annotations

from ..types import PropType as T, make_tag as _t

# --- common object properties (MS-OXCPRPT, MS-OXCMSG 2.2.1) ---
PidTagAccess = _t(0x0FF4, T.Integer32)
PidTagAccessLevel = _t(0x0FF7, T.Integer32)
PidTagAccessControlListData = _t(0x3FE0, T.Binary)
PidTagRecordKey = _t(0x0FF9, T.Binary)
PidTagSearchKey = _t(0x300B, T.Binary)
PidTagEntryId = _t(0x0FFF, T.Binary)
PidTagInstanceKey = _t(0x0FF6, T.Binary)
PidTagObjectType = _t(0x0FFE, T.Integer32)
PidTagMappingSignature = _t(0x0FF8, T.Binary)
PidTagStoreEntryId = _t(0x0FFB, T.Binary)
PidTagStoreRecordKey = _t(0x0FFA, T.Binary)
PidTagStoreSupportMask = _t(0x340D, T.Integer32)
PidTagStoreState = _t(0x340E, T.Integer32)
PidTagParentEntryId = _t(0x0E09, T.Binary)
PidTagDisplayName = _t(0x3001, T.String)
PidTagComment = _t(0x3004, T.String)
PidTagCreationTime = _t(0x3007, T.Time)
PidTagLastModificationTime = _t(0x3008, T.Time)
PidTagLastModifierName = _t(0x3FFA, T.String)
PidTagCreatorName = _t(0x3FF8, T.String)

# --- ids and incremental change sync (MS-OXCFXICS 2.2.1) ---
PidTagFolderId = _t(0x6748, T.Integer64)
PidTagParentFolderId = _t(0x6749, T.Integer64)
PidTagMid = _t(0x674A, T.Integer64)
PidTagInstID = _t(0x674D, T.Integer64)
PidTagInstanceNum = _t(0x674E, T.Integer32)
# --- categorized tables (MS-OXCTABL 2.2.1.x; MS-OXPROPS) ---
PidTagRowType = _t(0x0FF5, T.Integer32)
PidTagDepth = _t(0x3005, T.Integer32)
TBL_LEAF_ROW, TBL_EMPTY_CATEGORY, TBL_EXPANDED_CATEGORY, TBL_COLLAPSED_CATEGORY = 1, 2, 3, 4
PidTagChangeNumber = _t(0x67A4, T.Integer64)
PidTagChangeKey = _t(0x65E2, T.Binary)
PidTagPredecessorChangeList = _t(0x65E3, T.Binary)
PidTagSourceKey = _t(0x65E0, T.Binary)
PidTagParentSourceKey = _t(0x65E1, T.Binary)
PidTagAssociated = _t(0x67AA, T.Boolean)
PidTagMessageSize = _t(0x0E08, T.Integer32)
PidTagMessageSizeExtended = _t(0x0E08, T.Integer64)

# --- store (MS-OXCSTOR 2.2.2) ---
PidTagMailboxOwnerEntryId = _t(0x661B, T.Binary)
PidTagMailboxOwnerName = _t(0x661C, T.String)
PidTagIpmSubtreeEntryId = _t(0x35E0, T.Binary)
PidTagIpmOutboxEntryId = _t(0x35E2, T.Binary)
PidTagIpmWastebasketEntryId = _t(0x35E3, T.Binary)
PidTagIpmSentMailEntryId = _t(0x35E4, T.Binary)
PidTagViewsEntryId = _t(0x35E5, T.Binary)
PidTagCommonViewsEntryId = _t(0x35E6, T.Binary)
PidTagFinderEntryId = _t(0x35E7, T.Binary)
PidTagIpmAppointmentEntryId = _t(0x36D0, T.Binary)
PidTagIpmContactEntryId = _t(0x36D1, T.Binary)
PidTagIpmJournalEntryId = _t(0x36D2, T.Binary)
PidTagIpmNoteEntryId = _t(0x36D3, T.Binary)
PidTagIpmTaskEntryId = _t(0x36D4, T.Binary)
PidTagIpmDraftsEntryId = _t(0x36D7, T.Binary)
PidTagAdditionalRenEntryIds = _t(0x36D8, T.MultipleBinary)
PidTagRemindersOnlineEntryId = _t(0x36D5, T.Binary)
PidTagFreeBusyEntryIds = _t(0x36E4, T.MultipleBinary)
PidTagReplicaServer = _t(0x6644, T.String)
PidTagUserEntryId = _t(0x6619, T.Binary)
PidTagMessageSizeLimit = _t(0x666D, T.Integer32)

# --- folders (MS-OXCFOLD 2.2.2) ---
PidTagContainerClass = _t(0x3613, T.String)
PidTagFolderType = _t(0x3601, T.Integer32)
PidTagContentCount = _t(0x3602, T.Integer32)
PidTagContentUnreadCount = _t(0x3603, T.Integer32)
PidTagAssociatedContentCount = _t(0x3617, T.Integer32)
PidTagSubfolders = _t(0x360A, T.Boolean)
PidTagFolderChildCount = _t(0x6638, T.Integer32)
PidTagHierarchyChangeNumber = _t(0x663E, T.Integer32)
PidTagDeletedOn = _t(0x668F, T.Time)
PidTagAttributeHidden = _t(0x10F4, T.Boolean)
PidTagAttributeReadOnly = _t(0x10F6, T.Boolean)
PidTagRights = _t(0x6639, T.Integer32)
PidTagLocalCommitTimeMax = _t(0x670A, T.Time)
PidTagDeletedCountTotal = _t(0x670B, T.Integer32)
PidTagExtendedFolderFlags = _t(0x36DA, T.Binary)
PidTagDefaultPostMessageClass = _t(0x36E5, T.String)

# --- messages (MS-OXCMSG 2.2.1, MS-OXOMSG 2.2.1) ---
PidTagMessageClass = _t(0x001A, T.String)
PidTagSubject = _t(0x0037, T.String)
PidTagSubjectPrefix = _t(0x003D, T.String)
PidTagNormalizedSubject = _t(0x0E1D, T.String)
PidTagConversationTopic = _t(0x0070, T.String)
PidTagConversationIndex = _t(0x0071, T.Binary)
PidTagConversationId = _t(0x3013, T.Binary)
PidTagMessageFlags = _t(0x0E07, T.Integer32)
PidTagMessageStatus = _t(0x0E17, T.Integer32)
PidTagImportance = _t(0x0017, T.Integer32)
PidTagPriority = _t(0x0026, T.Integer32)
PidTagSensitivity = _t(0x0036, T.Integer32)
PidTagClientSubmitTime = _t(0x0039, T.Time)
PidTagMessageDeliveryTime = _t(0x0E06, T.Time)
PidTagHasAttachments = _t(0x0E1B, T.Boolean)
PidTagBody = _t(0x1000, T.String)
PidTagHtml = _t(0x1013, T.Binary)
PidTagBodyHtml = _t(0x1013, T.String)
PidTagRtfCompressed = _t(0x1009, T.Binary)
PidTagRtfInSync = _t(0x0E1F, T.Boolean)
PidTagNativeBody = _t(0x1016, T.Integer32)
PidTagInternetCodepage = _t(0x3FDE, T.Integer32)
PidTagMessageLocaleId = _t(0x3FF1, T.Integer32)
PidTagInternetMessageId = _t(0x1035, T.String)
PidTagInReplyToId = _t(0x1042, T.String)
PidTagInternetReferences = _t(0x1039, T.String)
PidTagTransportMessageHeaders = _t(0x007D, T.String)
PidTagDisplayTo = _t(0x0E04, T.String)
PidTagDisplayCc = _t(0x0E03, T.String)
PidTagDisplayBcc = _t(0x0E02, T.String)
PidTagIconIndex = _t(0x1080, T.Integer32)
PidTagLastVerbExecuted = _t(0x1081, T.Integer32)
PidTagLastVerbExecutionTime = _t(0x1082, T.Time)
PidTagFlagStatus = _t(0x1090, T.Integer32)
PidTagFlagCompleteTime = _t(0x1091, T.Time)
PidTagFollowupIcon = _t(0x1095, T.Integer32)
PidTagToDoItemFlags = _t(0x0E2B, T.Integer32)
PidTagReadReceiptRequested = _t(0x0029, T.Boolean)
PidTagOriginatorDeliveryReportRequested = _t(0x0023, T.Boolean)
PidTagReplyRequested = _t(0x0C17, T.Boolean)
PidTagResponseRequested = _t(0x0063, T.Boolean)
PidTagDeleteAfterSubmit = _t(0x0E01, T.Boolean)
PidTagSentMailEntryId = _t(0x0E0A, T.Binary)
PidTagKeywords = _t(0x7C08, T.MultipleString)  # categories live in PidNameKeywords; kept for reference
PidTagPreview = _t(0x3FD9, T.String)
PidTagInternetArticleNumber = _t(0x0E23, T.Integer32)
PidTagReplyRecipientNames = _t(0x0050, T.String)
PidTagReplyRecipientEntries = _t(0x004F, T.Binary)
PidTagListUnsubscribe = _t(0x1045, T.String)
PidTagReadReceiptEntryId = _t(0x0046, T.Binary)
PidTagOriginalSubject = _t(0x0049, T.String)
PidTagTrustSender = _t(0x0E79, T.Integer32)

# sender / sent-representing / received-by (MS-OXOMSG 2.2.1)
PidTagSenderName = _t(0x0C1A, T.String)
PidTagSenderEmailAddress = _t(0x0C1F, T.String)
PidTagSenderAddressType = _t(0x0C1E, T.String)
PidTagSenderSmtpAddress = _t(0x5D01, T.String)
PidTagSenderEntryId = _t(0x0C19, T.Binary)
PidTagSenderSearchKey = _t(0x0C1D, T.Binary)
PidTagSentRepresentingName = _t(0x0042, T.String)
PidTagSentRepresentingEmailAddress = _t(0x0065, T.String)
PidTagSentRepresentingAddressType = _t(0x0064, T.String)
PidTagSentRepresentingSmtpAddress = _t(0x5D02, T.String)
PidTagSentRepresentingEntryId = _t(0x0041, T.Binary)
PidTagSentRepresentingSearchKey = _t(0x003B, T.Binary)
PidTagReceivedByName = _t(0x0040, T.String)
PidTagReceivedByEmailAddress = _t(0x0076, T.String)
PidTagReceivedByAddressType = _t(0x0075, T.String)
PidTagReceivedBySmtpAddress = _t(0x5D07, T.String)
PidTagReceivedByEntryId = _t(0x003F, T.Binary)
PidTagReceivedRepresentingName = _t(0x0044, T.String)
PidTagReceivedRepresentingEmailAddress = _t(0x0078, T.String)
PidTagReceivedRepresentingAddressType = _t(0x0077, T.String)
PidTagReceivedRepresentingSmtpAddress = _t(0x5D08, T.String)
PidTagReceivedRepresentingEntryId = _t(0x0043, T.Binary)

# --- recipients (MS-OXCMSG 2.2.1.5, MS-OXOMSG) ---
PidTagRecipientType = _t(0x0C15, T.Integer32)
PidTagRecipientFlags = _t(0x5FFD, T.Integer32)
PidTagRecipientTrackStatus = _t(0x5FFF, T.Integer32)
PidTagRecipientOrder = _t(0x5FDF, T.Integer32)
PidTagRecipientDisplayName = _t(0x5FF6, T.String)
PidTagRecipientEntryId = _t(0x5FF7, T.Binary)
PidTagRowid = _t(0x3000, T.Integer32)
PidTagEmailAddress = _t(0x3003, T.String)
PidTagAddressType = _t(0x3002, T.String)
PidTagSmtpAddress = _t(0x39FE, T.String)
PidTagDisplayType = _t(0x3900, T.Integer32)
PidTagDisplayTypeEx = _t(0x3905, T.Integer32)
PidTagSendRichInfo = _t(0x3A40, T.Boolean)
PidTagTransmittableDisplayName = _t(0x3A20, T.String)
PidTagResponsibility = _t(0x0E0F, T.Boolean)

# --- folder permissions (MS-OXCPERM 2.2.4) ---
PidTagMemberId = _t(0x6671, T.Integer64)
PidTagMemberName = _t(0x6672, T.String)
PidTagMemberRights = _t(0x6673, T.Integer32)

# --- server-side rules (MS-OXORULE 2.2.1.3.1) ---
PidTagRuleId = _t(0x6674, T.Integer64)
PidTagRuleSequence = _t(0x6676, T.Integer32)
PidTagRuleState = _t(0x6677, T.Integer32)
PidTagRuleUserFlags = _t(0x6678, T.Integer32)
PidTagRuleCondition = _t(0x6679, T.Restriction)
PidTagRuleActions = _t(0x6680, T.RuleAction)
PidTagRuleProvider = _t(0x6681, T.String)
PidTagRuleName = _t(0x6682, T.String)
PidTagRuleLevel = _t(0x6683, T.Integer32)
PidTagRuleProviderData = _t(0x6684, T.Binary)
PidTagMessageToMe = _t(0x0057, T.Boolean)
PidTagMessageCcMe = _t(0x0058, T.Boolean)

# --- attachments (MS-OXCMSG 2.2.2) ---
PidTagAttachNumber = _t(0x0E21, T.Integer32)
PidTagAttachMethod = _t(0x3705, T.Integer32)
PidTagAttachFilename = _t(0x3704, T.String)
PidTagAttachLongFilename = _t(0x3707, T.String)
PidTagAttachExtension = _t(0x3703, T.String)
PidTagAttachMimeTag = _t(0x370E, T.String)
PidTagAttachContentId = _t(0x3712, T.String)
PidTagAttachContentLocation = _t(0x3713, T.String)
PidTagAttachDataBinary = _t(0x3701, T.Binary)
PidTagAttachDataObject = _t(0x3701, T.Object)
PidTagAttachSize = _t(0x0E20, T.Integer32)
PidTagAttachFlags = _t(0x3714, T.Integer32)
PidTagAttachmentHidden = _t(0x7FFE, T.Boolean)
PidTagAttachmentLinkId = _t(0x7FFA, T.Integer32)
PidTagAttachmentFlags = _t(0x7FFD, T.Integer32)
PidTagAttachRendering = _t(0x3709, T.Binary)
PidTagRenderingPosition = _t(0x370B, T.Integer32)
PidTagAttachEncoding = _t(0x3702, T.Binary)
PidTagExceptionStartTime = _t(0x7FFB, T.Time)
PidTagExceptionEndTime = _t(0x7FFC, T.Time)
PidTagExceptionReplaceTime = _t(0x7FF9, T.Time)
PidTagTextAttachmentCharset = _t(0x371B, T.String)
PidTagAttachPayloadClass = _t(0x371A, T.String)
PidTagAttachPayloadProviderGuidString = _t(0x3719, T.String)

# --- contacts, tagged part (MS-OXOCNTC 2.2.1) ---
PidTagGivenName = _t(0x3A06, T.String)
PidTagSurname = _t(0x3A11, T.String)
PidTagMiddleName = _t(0x3A44, T.String)
PidTagInitials = _t(0x3A0A, T.String)
PidTagDisplayNamePrefix = _t(0x3A45, T.String)
PidTagGeneration = _t(0x3A05, T.String)
PidTagNickname = _t(0x3A4F, T.String)
PidTagCompanyName = _t(0x3A16, T.String)
PidTagTitle = _t(0x3A17, T.String)
PidTagDepartmentName = _t(0x3A18, T.String)
PidTagOfficeLocation = _t(0x3A19, T.String)
PidTagBusinessTelephoneNumber = _t(0x3A08, T.String)
PidTagBusiness2TelephoneNumber = _t(0x3A1B, T.String)
PidTagHomeTelephoneNumber = _t(0x3A09, T.String)
PidTagHome2TelephoneNumber = _t(0x3A2F, T.String)
PidTagMobileTelephoneNumber = _t(0x3A1C, T.String)
PidTagPagerTelephoneNumber = _t(0x3A21, T.String)
PidTagBusinessFaxNumber = _t(0x3A24, T.String)
PidTagHomeFaxNumber = _t(0x3A25, T.String)
PidTagPrimaryTelephoneNumber = _t(0x3A1A, T.String)
PidTagCarTelephoneNumber = _t(0x3A1E, T.String)
PidTagAssistant = _t(0x3A30, T.String)
PidTagAssistantTelephoneNumber = _t(0x3A2E, T.String)
PidTagManagerName = _t(0x3A4E, T.String)
PidTagSpouseName = _t(0x3A48, T.String)
PidTagBirthday = _t(0x3A42, T.Time)
PidTagWeddingAnniversary = _t(0x3A41, T.Time)
PidTagBusinessHomePage = _t(0x3A51, T.String)
PidTagPersonalHomePage = _t(0x3A50, T.String)
PidTagProfession = _t(0x3A46, T.String)
PidTagStreetAddress = _t(0x3A29, T.String)
PidTagLocality = _t(0x3A27, T.String)
PidTagStateOrProvince = _t(0x3A28, T.String)
PidTagPostalCode = _t(0x3A2A, T.String)
PidTagCountry = _t(0x3A26, T.String)
PidTagPostOfficeBox = _t(0x3A2B, T.String)
PidTagHomeAddressStreet = _t(0x3A5D, T.String)
PidTagHomeAddressCity = _t(0x3A59, T.String)
PidTagHomeAddressStateOrProvince = _t(0x3A5C, T.String)
PidTagHomeAddressPostalCode = _t(0x3A5B, T.String)
PidTagHomeAddressCountry = _t(0x3A5A, T.String)
PidTagOtherAddressStreet = _t(0x3A63, T.String)
PidTagOtherAddressCity = _t(0x3A5F, T.String)
PidTagOtherAddressStateOrProvince = _t(0x3A62, T.String)
PidTagOtherAddressPostalCode = _t(0x3A61, T.String)
PidTagOtherAddressCountry = _t(0x3A60, T.String)
PidTagAccount = _t(0x3A00, T.String)
PidTagUserCertificate = _t(0x3A22, T.Binary)
PidTagGender = _t(0x3A4D, T.Integer16)

# --- address book objects (MS-OXOABK 2.2) ---
PidTagAddressBookDisplayNamePrintable = _t(0x39FF, T.String)
PidTagAddressBookMember = _t(0x8009, T.MultipleBinary)
PidTagAddressBookProxyAddresses = _t(0x800F, T.MultipleString)
PidTagAddressBookHomeMessageDatabase = _t(0x8006, T.String8)
PidTagAddressBookPhoneticDisplayName = _t(0x8C92, T.String)
PidTagEmsAbDisplayNamePrintable = PidTagAddressBookDisplayNamePrintable

# --- message flags etc: values, not tags ---
MSGFLAG_READ = 0x00000001
MSGFLAG_UNMODIFIED = 0x00000002
MSGFLAG_SUBMITTED = 0x00000004
MSGFLAG_UNSENT = 0x00000008
MSGFLAG_HASATTACH = 0x00000010
MSGFLAG_FROMME = 0x00000020
MSGFLAG_ASSOCIATED = 0x00000040
MSGFLAG_RESEND = 0x00000080
MSGFLAG_RN_PENDING = 0x00000100
MSGFLAG_NRN_PENDING = 0x00000200

MAPI_TO = 1
MAPI_CC = 2
MAPI_BCC = 3

# PidTagFolderType values (MS-OXCFOLD 2.2.2.2.1.3)
FOLDER_ROOT = 0
FOLDER_GENERIC = 1
FOLDER_SEARCH = 2

# PidTagObjectType values (MS-OXCPRPT)
MAPI_STORE = 1
MAPI_FOLDER = 3
MAPI_MESSAGE = 5
MAPI_MAILUSER = 6
MAPI_ATTACH = 7
MAPI_DISTLIST = 8

# PidTagAttachMethod values (MS-OXCMSG 2.2.2.9)
ATTACH_BY_VALUE = 1
ATTACH_EMBEDDED_MSG = 5
ATTACH_OLE = 6

# PidTagFlagStatus (MS-OXOFLAG 2.2.1.1)
FOLLOWUP_COMPLETE = 1
FOLLOWUP_FLAGGED = 2

# PidTagLastVerbExecuted (MS-OXOMSG 2.2.1.29)
NOTEIVERB_REPLYTOSENDER = 102
NOTEIVERB_REPLYTOALL = 103
NOTEIVERB_FORWARD = 104
