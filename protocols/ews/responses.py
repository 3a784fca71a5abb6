"""ResponseMessages (MS-OXWSCDATA 2.2.4.67 ResponseMessageType) and ResponseCodes.

Every operation answers ``m:<Op>Response/m:ResponseMessages/m:<Op>ResponseMessage``,
one message per requested object, each with ResponseClass Success/Warning/Error,
MessageText (on errors), ResponseCode and DescriptiveLinkKey, then its payload.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .ns import RESPONSE_NSMAP, m, sub

# The texts Exchange writes for the common codes (seen in the Exchange 2010 SP2 traces where present).
DEFAULT_TEXT = {
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorInvalidIdEmpty": "Id must be non-empty.",
    "ErrorFolderExists": "A folder with the specified name already exists.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorIrresolvableConflict": "The send or update operation could not be performed because the change key "
                                 "passed in the request does not match the current change key for the item.",
    "ErrorInvalidOperation": "The operation is not supported by this server.",
    "ErrorInvalidSyncStateData": "Synchronization state data is corrupt or otherwise invalid.",
    "ErrorImpersonationDenied": "The account does not have permission to impersonate the requested user.",
    "ErrorNameResolutionNoResults": "No results were found.",
    "ErrorInternalServerError": "An internal server error occurred. The operation failed.",
    "ErrorMailboxStoreUnavailable": "The mailbox database is temporarily unavailable.",
    "ErrorInvalidRequest": "The request is invalid.",
    "ErrorDeleteDistinguishedFolder": "Distinguished folders cannot be deleted.",
    "ErrorInvalidPropertyRequest": "The property request is invalid.",
    "ErrorInvalidExtendedPropertyValue": "The extended property value is invalid.",
    "ErrorMessageSubmissionBlocked": "The message could not be submitted.",
    "ErrorInvalidSubscription": "The subscription is invalid.",
}


@dataclass
class ResponseError(Exception):
    """Raised by handlers for one failed element; becomes an Error ResponseMessage."""

    code: str
    text: str | None = None

    def __post_init__(self):
        super().__init__(self.code, self.text)

    @property
    def message(self) -> str:
        return self.text or DEFAULT_TEXT.get(self.code, self.code)


def response_name(operation: str) -> str:
    """``GetUserOofSettingsRequest`` -> ``GetUserOofSettings``: the stem of the response names."""
    return operation[:-7] if operation.endswith("Request") and operation != "Request" else operation


def response_root(operation: str):
    """``m:<Op>Response`` with an empty ``m:ResponseMessages``; returns (root, messages)."""
    root = etree.Element(m(f"{response_name(operation)}Response"), nsmap=RESPONSE_NSMAP)
    return root, etree.SubElement(root, m("ResponseMessages"))


def message(messages, operation: str, code: str = "NoError", text: str | None = None, *,
            response_class: str | None = None, element: str | None = None):
    """Append one ``m:<Op>ResponseMessage``; payload children go after the returned element's header."""
    cls = response_class or ("Success" if code == "NoError" else "Error")
    el = etree.SubElement(messages, m(element or f"{response_name(operation)}ResponseMessage"),
                          {"ResponseClass": cls})
    if cls != "Success":
        sub(el, m("MessageText"), text or DEFAULT_TEXT.get(code, code))
    sub(el, m("ResponseCode"), code)
    if cls != "Success":
        sub(el, m("DescriptiveLinkKey"), 0)
    return el


def error_message(messages, operation: str, err: ResponseError, *, element: str | None = None):
    return message(messages, operation, err.code, err.message, element=element)
