"""The store sees an unreachable backend as BackendUnavailable (gateway/store/adapters/unavailable.py)."""
from __future__ import annotations

import pytest

from gateway.backends.base import BackendError
from gateway.store.adapters.unavailable import Reachable
from gateway.store.errors import BackendUnavailable


class Client:
    delimiter = "/"

    async def append(self, kind):
        raise BackendError("IMAP connect to 127.0.0.1:1 failed: refused", kind)


async def test_unreachable_is_backend_unavailable_other_errors_pass():
    c = Reachable(Client())
    with pytest.raises(BackendUnavailable):
        await c.append("unavailable")
    with pytest.raises(BackendError) as info:
        await c.append("notfound")
    assert info.value.kind == "notfound" and not isinstance(info.value, BackendUnavailable)
    assert c.delimiter == "/"
