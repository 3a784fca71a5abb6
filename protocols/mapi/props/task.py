"""Task named properties: PSETID_Task and PidLidTaskGlobalId (MS-OXPROPS 2.x, MS-OXOTASK 2.2.2)."""
from __future__ import annotations

from ..types import PropType as T
from .named import PSETID, lid

_T = PSETID.Task

PidLidTaskStatus = lid(_T, 0x8101, T.Integer32)
PidLidPercentComplete = lid(_T, 0x8102, T.Floating64)
PidLidTeamTask = lid(_T, 0x8103, T.Boolean)
PidLidTaskStartDate = lid(_T, 0x8104, T.Time)
PidLidTaskDueDate = lid(_T, 0x8105, T.Time)
PidLidTaskResetReminder = lid(_T, 0x8107, T.Boolean)
PidLidTaskAccepted = lid(_T, 0x8108, T.Boolean)
PidLidTaskDeadOccurrence = lid(_T, 0x8109, T.Boolean)
PidLidTaskDateCompleted = lid(_T, 0x810F, T.Time)
PidLidTaskActualEffort = lid(_T, 0x8110, T.Integer32)
PidLidTaskEstimatedEffort = lid(_T, 0x8111, T.Integer32)
PidLidTaskVersion = lid(_T, 0x8112, T.Integer32)
PidLidTaskState = lid(_T, 0x8113, T.Integer32)
PidLidTaskLastUpdate = lid(_T, 0x8115, T.Time)
PidLidTaskRecurrence = lid(_T, 0x8116, T.Binary)
PidLidTaskAssigners = lid(_T, 0x8117, T.Binary)
PidLidTaskStatusOnComplete = lid(_T, 0x8119, T.Boolean)
PidLidTaskHistory = lid(_T, 0x811A, T.Integer32)
PidLidTaskUpdates = lid(_T, 0x811B, T.Boolean)
PidLidTaskComplete = lid(_T, 0x811C, T.Boolean)
PidLidTaskFCreator = lid(_T, 0x811E, T.Boolean)
PidLidTaskOwner = lid(_T, 0x811F, T.String)
PidLidTaskMultipleRecipients = lid(_T, 0x8120, T.Integer32)
PidLidTaskAssigner = lid(_T, 0x8121, T.String)
PidLidTaskLastUser = lid(_T, 0x8122, T.String)
PidLidTaskOrdinal = lid(_T, 0x8123, T.Integer32)
PidLidTaskNoCompute = lid(_T, 0x8124, T.Boolean)
PidLidTaskLastDelegate = lid(_T, 0x8125, T.String)
PidLidTaskFRecurring = lid(_T, 0x8126, T.Boolean)
PidLidTaskRole = lid(_T, 0x8127, T.String)
PidLidTaskOwnership = lid(_T, 0x8129, T.Integer32)
PidLidTaskAcceptanceState = lid(_T, 0x812A, T.Integer32)
PidLidTaskFFixOffline = lid(_T, 0x812C, T.Boolean)
PidLidTaskCustomFlags = lid(_T, 0x8139, T.Integer32)
PidLidTaskGlobalId = lid(PSETID.Common, 0x8519, T.Binary)

# PidLidTaskStatus values (MS-OXOTASK 2.2.2.2.2)
tsvNotStarted, tsvInProgress, tsvComplete, tsvWaiting, tsvDeferred = 0, 1, 2, 3, 4
# PidLidTaskState (MS-OXOTASK 2.2.2.2.3)
tdsNOM, tdsOWNNEW, tdsOWN, tdsACC, tdsDEC = 0, 1, 2, 3, 4

CLASS_TASK = "IPM.Task"
