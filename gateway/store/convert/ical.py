"""iCalendar <-> MAPI properties (MS-OXCICAL): the entry points other rooms call.

- appointments and their overrides: ``ical_event`` (recurrence blob in ``recur``,
  time zones in ``tz``, UID <-> Global Object ID in ``goid``)
- tasks: ``ical_task``
- iTIP REQUEST / REPLY / CANCEL for a text/calendar mail part: ``itip_to_meeting_message``
  and ``meeting_message_to_itip``
"""
from __future__ import annotations

from .ical_event import (ICalError, appointment_to_ical, ical_to_appointment, itip_to_meeting_message,
                         meeting_message_to_itip)
from .ical_task import ical_to_task, task_to_ical

__all__ = ["ICalError", "ical_to_appointment", "appointment_to_ical", "ical_to_task", "task_to_ical",
           "itip_to_meeting_message", "meeting_message_to_itip"]
