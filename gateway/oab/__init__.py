"""The offline address book's download point: ``GET /OAB/<guid>/oab.xml`` and ``/OAB/<guid>/<file>``
(MS-OXWOAB: the manifest, then the files it names), behind the same sign-in as every other route.

The files are made by the store (``gateway.store.oab``); here they are served as static files with
``ETag`` (from the file's modification time and size), ``Last-Modified``, and ``304 Not Modified``
for ``If-None-Match``/``If-Modified-Since``. Asking for ``oab.xml`` lets the store look whether the
directory changed (at most every ``[oab] recheck_seconds``) and build a new version first.
Autodiscover advertises ``<base>/OAB/<guid>/`` as OABUrl.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

log = logging.getLogger(__name__)

OAB_BOOK = web.AppKey("exgate_oab", object)
_OAB_TASK = web.AppKey("exgate_oab_task", asyncio.Task)


def _root(state) -> Path | None:
    if state.config.oab.directory:
        return Path(state.config.oab.directory)
    if state.data_dir is not None:
        return Path(state.data_dir) / "oab"
    dsn = state.config.state.dsn or ""
    if dsn and "://" not in dsn:
        return Path(dsn).resolve().parent / "oab"
    return None


def register(app: web.Application) -> None:
    from gateway.http.keys import GATEWAY
    from gateway.store.oab import OfflineAddressBook
    state = app[GATEWAY]
    root = _root(state)
    if root is None:
        log.warning("offline address book: no data directory, so no OAB (set [oab] directory)")
        return
    book = OfflineAddressBook(state.store_directory, root, state.config.domain,
                              interval_hours=state.config.oab.interval_hours,
                              recheck_seconds=state.config.oab.recheck_seconds)
    app[OAB_BOOK] = book
    app.router.add_route("GET", r"/{oab:(?i:oab)}/{guid}/{name}", handle_file)
    app.router.add_route("HEAD", r"/{oab:(?i:oab)}/{guid}/{name}", handle_file)
    state.endpoints.setdefault("oab", f"/OAB/{book.guid}/oab.xml")

    async def start(app: web.Application) -> None:
        if state.store_directory.available:
            app[_OAB_TASK] = asyncio.get_running_loop().create_task(book.run_forever())

    async def stop(app: web.Application) -> None:
        task = app.get(_OAB_TASK)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    app.on_startup.append(start)
    app.on_cleanup.append(stop)


async def handle_file(request: web.Request) -> web.StreamResponse:
    book = request.app[OAB_BOOK]
    name = request.match_info["name"]
    if request.match_info["guid"].strip("{}").lower() != str(book.guid):
        raise web.HTTPNotFound(text="404 Not Found: no offline address book with that guid\n")
    if name.lower() == "oab.xml":
        try:
            await book.refresh()
        except Exception as exc:   # noqa: BLE001 - the last version is still good to serve
            if book.current() is None:
                raise web.HTTPServiceUnavailable(text=f"503: the offline address book cannot be built: {exc}\n") \
                    from None
            log.warning("offline address book: directory not read (%s); serving sequence %d", exc,
                        book.current().seq)
    path = book.path_of(name)
    if path is None:
        raise web.HTTPNotFound(text="404 Not Found: no such offline address book file\n")
    st = path.stat()
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    modified = datetime.fromtimestamp(int(st.st_mtime), timezone.utc)
    headers = {"ETag": etag, "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "no-cache",
               "Content-Type": "text/xml; charset=utf-8" if path.suffix == ".xml" else "application/octet-stream"}
    if _not_modified(request, etag, modified):
        return web.Response(status=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    headers["Content-Length"] = str(st.st_size)
    resp = web.StreamResponse(status=200, headers=headers)
    await resp.prepare(request)
    if request.method != "HEAD":
        with open(path, "rb") as fh:
            while chunk := fh.read(256 * 1024):
                await resp.write(chunk)
    await resp.write_eof()
    return resp


def _not_modified(request: web.Request, etag: str, modified: datetime) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("If-Modified-Since")
    if ims:
        try:
            return modified <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False
