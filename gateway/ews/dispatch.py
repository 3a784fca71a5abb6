"""The EWS operation table: body element local name -> handler(EwsContext) -> response element.

Operations not listed answer ErrorInvalidOperation (endpoint.py). Calendar, contacts and task
items, attachments, notifications, OOF, free/busy, user configuration and delegates are for
later handlers added here.
"""
from __future__ import annotations

from . import archive, folders, items, misc, people, sync
from . import availability, notifications, oof, services, userconfig

OPERATIONS = {
    "GetFolder": folders.get_folder,
    "FindFolder": folders.find_folder,
    "CreateFolder": folders.create_folder,
    "UpdateFolder": folders.update_folder,
    "DeleteFolder": folders.delete_folder,
    "MoveFolder": folders.move_folder,
    "CopyFolder": folders.copy_folder,
    "EmptyFolder": folders.empty_folder,
    "SyncFolderHierarchy": sync.sync_folder_hierarchy,
    "SyncFolderItems": sync.sync_folder_items,
    "FindItem": items.find_item,
    "GetItem": items.get_item,
    "CreateItem": items.create_item,
    "UpdateItem": items.update_item,
    "DeleteItem": items.delete_item,
    "MoveItem": items.move_item,
    "CopyItem": items.copy_item,
    "SendItem": items.send_item,
    "MarkAsJunk": items.mark_as_junk,
    "ArchiveItem": archive.archive_item,
    "ResolveNames": people.resolve_names,
    "ExpandDL": people.expand_dl,
    "GetServerTimeZones": misc.get_server_time_zones,
    "ConvertId": misc.convert_id,
    # settings and directory services (oof.py, userconfig.py, services.py)
    "GetUserOofSettingsRequest": oof.get_user_oof_settings,
    "SetUserOofSettingsRequest": oof.set_user_oof_settings,
    "GetUserConfiguration": userconfig.get_user_configuration,
    "CreateUserConfiguration": userconfig.create_user_configuration,
    "UpdateUserConfiguration": userconfig.update_user_configuration,
    "DeleteUserConfiguration": userconfig.delete_user_configuration,
    "GetUserPhoto": services.get_user_photo,
    "GetPasswordExpirationDate": services.get_password_expiration_date,
    "GetServiceConfiguration": services.get_service_configuration,
    "GetMailTips": services.get_mail_tips,
    "GetRoomLists": services.get_room_lists,
    "GetRooms": services.get_rooms,
    "GetDelegate": services.get_delegate,
    "AddDelegate": services.delegate_not_supported,
    "UpdateDelegate": services.delegate_not_supported,
    "RemoveDelegate": services.delegate_not_supported,
    # notifications (notifications.py)
    "Subscribe": notifications.subscribe,
    "Unsubscribe": notifications.unsubscribe,
    "GetEvents": notifications.get_events,
    "GetStreamingEvents": notifications.get_streaming_events,
    # free/busy (availability.py)
    "GetUserAvailabilityRequest": availability.get_user_availability,
}

# calendar, contacts, tasks and attachments (calendar.py, contacts.py, tasks.py, attachments.py); importing
# them also plugs their item classes into items.py (CreateItem/GetItem/FindItem/UpdateItem/DeleteItem hooks)
from . import attachments, calendar, contacts, tasks  # noqa: E402,F401
from . import grouping, reply  # noqa: E402,F401  (ReplyToItem, ReplyAllToItem, ForwardItem in CreateItem)

OPERATIONS.update({
    "FindItem": grouping.find_item,  # GroupBy/DistinguishedGroupBy; plain FindItem goes on to items.find_item
    "GetAttachment": attachments.get_attachment,
    "CreateAttachment": attachments.create_attachment,
    "DeleteAttachment": attachments.delete_attachment,
    "ExpandDL": contacts.expand_dl,
})
