"""Task in EWS XML (MS-OXWSTASK 2.2.4.6 TaskType) <-> MS-OXOTASK properties.

PercentComplete is 0-100 in EWS and 0.0-1.0 in PidLidPercentComplete. Setting Status to
Completed (or PercentComplete to 100) also marks the task complete, as Exchange does
(MS-OXOTASK 2.2.2.2.20: PidLidTaskComplete, PidLidTaskDateCompleted, PidLidPercentComplete
move together).
"""
from __future__ import annotations

from datetime import datetime, timezone

from protocols.mapi.props import task as K

from . import items as I
from .ns import sub, t
from .values import PathError

STATUS = {0: "NotStarted", 1: "InProgress", 2: "Completed", 3: "WaitingOnOthers", 4: "Deferred"}
STATUS_BACK = {v: k for k, v in STATUS.items()}


def _get(view, key):
    return I._get(view, key)


def w_status(parent, view, f, shape):
    v = _get(view, K.PidLidTaskStatus)
    sub(parent, t("Status"), STATUS.get(v if v is not None else 0, "NotStarted"))


def _complete(inp) -> None:
    inp.props[K.PidLidTaskComplete] = True
    inp.props[K.PidLidPercentComplete] = 1.0
    inp.props[K.PidLidTaskStatus] = 2
    inp.props.setdefault(K.PidLidTaskDateCompleted, datetime.now(timezone.utc).replace(microsecond=0))


def r_status(el, inp, f):
    v = (el.text or "").strip()
    if v not in STATUS_BACK:
        raise PathError(f"bad task Status {v!r}")
    inp.props[K.PidLidTaskStatus] = STATUS_BACK[v]
    if v == "Completed":
        _complete(inp)
    else:
        inp.props[K.PidLidTaskComplete] = False
        if inp.props.get(K.PidLidPercentComplete) == 1.0:
            inp.props[K.PidLidPercentComplete] = 0.0


def w_percent(parent, view, f, shape):
    v = _get(view, K.PidLidPercentComplete)
    pct = float(v or 0.0) * 100
    sub(parent, t("PercentComplete"), int(pct) if pct == int(pct) else round(pct, 2))


def r_percent(el, inp, f):
    try:
        pct = float((el.text or "0").strip())
    except ValueError as exc:
        raise PathError("bad PercentComplete") from exc
    if not 0 <= pct <= 100:
        raise PathError("PercentComplete must be between 0 and 100")
    inp.props[K.PidLidPercentComplete] = pct / 100
    if pct == 100:
        _complete(inp)
    elif pct > 0 and inp.props.get(K.PidLidTaskStatus, 0) == 0:
        inp.props[K.PidLidTaskStatus] = 1


def w_is_complete(parent, view, f, shape):
    sub(parent, t("IsComplete"), bool(_get(view, K.PidLidTaskComplete)) or _get(view, K.PidLidTaskStatus) == 2)


def w_is_recurring(parent, view, f, shape):
    sub(parent, t("IsRecurring"), bool(_get(view, K.PidLidTaskFRecurring)))


def r_complete_date(el, inp, f):
    I.r_time(el, inp, f)


_f = I._f
TASK_FIELDS = [
    _f("task:ActualWork", "ActualWork", I.w_int, None, K.PidLidTaskActualEffort),
    _f("task:CompleteDate", "CompleteDate", I.w_time, r_complete_date, K.PidLidTaskDateCompleted, default=True),
    _f("task:DueDate", "DueDate", I.w_time, I.r_time, K.PidLidTaskDueDate, default=True),
    _f("task:IsComplete", "IsComplete", w_is_complete, default=True),
    _f("task:IsRecurring", "IsRecurring", w_is_recurring, default=True),
    _f("task:IsTeamTask", "IsTeamTask", I.w_bool, None, K.PidLidTeamTask),
    _f("task:Owner", "Owner", I.w_text, None, K.PidLidTaskOwner),
    _f("task:PercentComplete", "PercentComplete", w_percent, r_percent, K.PidLidPercentComplete, default=True),
    _f("task:StartDate", "StartDate", I.w_time, I.r_time, K.PidLidTaskStartDate, default=True),
    _f("task:Status", "Status", w_status, r_status, K.PidLidTaskStatus, default=True),
    _f("task:TotalWork", "TotalWork", I.w_int, None, K.PidLidTaskEstimatedEffort),
]

TASK = I.ItemClassTable("Task", tuple(I.ITEM_FIELDS + TASK_FIELDS), (K.CLASS_TASK,))
I.register_table(TASK)
