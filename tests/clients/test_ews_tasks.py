"""exchangelib task sessions: the seeded task list, create, complete, delete."""
from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from datetime import timedelta

import pytest
from exchangelib import EWSDateTime, EWSTimeZone
from exchangelib.items import Task

from .test_ews_exchangelib import account


@pytest.fixture(params=["demo", "real"])
def gw(request):
    return request.getfixturevalue("demo_gateway" if request.param == "demo" else "real_gateway")


def _seeded(gw):
    a = account(gw, "bob")
    subjects = [t.subject for t in a.tasks.all()]
    assert len(subjects) >= 3, subjects


async def test_seeded_tasks(demo_gateway):
    await asyncio.to_thread(_seeded, demo_gateway)


def _lifecycle(gw):
    a = account(gw)
    tag = uuid.uuid4().hex[:8]
    due = EWSDateTime.now(tz=EWSTimeZone("UTC")).replace(hour=0, minute=0, second=0, microsecond=0) \
        + timedelta(days=7)
    task = Task(account=a, folder=a.tasks, subject=f"task {tag}", body="do it", due_date=due.date())
    task.save()
    got = a.tasks.get(id=task.id)
    assert got.subject == f"task {tag}" and got.status == "NotStarted" and not got.is_complete
    assert got.due_date == due.date()
    assert f"task {tag}" in [t.subject for t in a.tasks.all()]
    got.percent_complete = Decimal(50)
    got.save(update_fields=["percent_complete"])
    half = a.tasks.get(id=task.id)
    assert half.percent_complete == 50 and half.status == "InProgress"
    half.status = "Completed"
    half.save(update_fields=["status"])
    done = a.tasks.get(id=task.id)
    assert done.status == "Completed" and done.is_complete and done.percent_complete == 100
    assert done.complete_date is not None
    done.delete()
    assert f"task {tag}" not in [t.subject for t in a.tasks.all()]


async def test_task_create_complete_delete(gw):
    await asyncio.to_thread(_lifecycle, gw)
