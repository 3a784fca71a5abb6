"""The property calls: GetProps, GetPropList, QueryColumns (MS-OXNSPI 3.1.4.1.7, .6, .5)."""
from __future__ import annotations

from protocols.mapi.props import core as P
from protocols.mapi.types import PropType as T
from protocols.nspi import codec as C

from .. import rows as R
from ..book import (PidTagAddressBookContainerId, PidTagContainerFlags, PidTagInitialDetailsPane,
                    PidTagTemplateid)
from .base import Call

NSPI_UNICODE_PROPTYPES = 0x80000000     # QueryColumns MapFlags


async def get_props(call: Call, req) -> C.GetPropsResponse:
    stat = req.state or C.Stat()
    book = await call.book()
    e = book.entry(stat.current_rec)
    if e is None:
        return call.fail(R.NOT_FOUND if stat.current_rec > R.MID_END_OF_TABLE else R.INVALID_BOOKMARK)
    props = book.props(e, ephemeral=bool(req.flags & R.F_EPH_ID))
    unicode = stat.code_page == R.CP_WINUNICODE
    tags = req.property_tags if req.property_tags is not None else R.tags_of(props, unicode=unicode)
    values, missing = R.value_list(props, tags)
    return C.GetPropsResponse(error_code=R.ERRORS_RETURNED if missing else R.SUCCESS,
                              code_page=stat.code_page, property_values=values)


async def get_prop_list(call: Call, req) -> C.GetPropListResponse:
    book = await call.book()
    e = book.entry(req.minimal_id)
    if e is None:
        return call.fail(R.INVALID_PARAMETER)
    props = book.props(e)
    if req.flags & R.F_SKIP_OBJECTS:
        props = {t: v for t, v in props.items() if t & 0xFFFF != T.Object}
    return C.GetPropListResponse(property_tags=R.tags_of(props, unicode=req.code_page == R.CP_WINUNICODE))


# every column a row of this address book can hold
COLUMNS = (
    P.PidTagDisplayName, P.PidTagAddressBookDisplayNamePrintable, P.PidTagTransmittableDisplayName,
    P.PidTagEmailAddress, P.PidTagAddressType, P.PidTagSmtpAddress, P.PidTagAddressBookProxyAddresses,
    P.PidTagAccount, P.PidTagGivenName, P.PidTagSurname, P.PidTagTitle, P.PidTagDepartmentName,
    P.PidTagCompanyName, P.PidTagOfficeLocation, P.PidTagBusinessTelephoneNumber,
    P.PidTagMobileTelephoneNumber, P.PidTagObjectType, P.PidTagDisplayType, P.PidTagDisplayTypeEx,
    P.PidTagEntryId, P.PidTagRecordKey, P.PidTagSearchKey, P.PidTagInstanceKey, P.PidTagMappingSignature,
    PidTagTemplateid, PidTagInitialDetailsPane, 0x8005001F, 0x800C001F, 0x8C9E0102,
    P.PidTagStreetAddress, P.PidTagLocality, P.PidTagStateOrProvince, P.PidTagPostalCode, P.PidTagCountry,
    PidTagContainerFlags, P.PidTagDepth, PidTagAddressBookContainerId,
)


async def query_columns(call: Call, req) -> C.QueryColumnsResponse:
    unicode = bool(req.map_flags & NSPI_UNICODE_PROPTYPES)
    return C.QueryColumnsResponse(columns=R.tags_of(dict.fromkeys(COLUMNS), unicode=unicode))
