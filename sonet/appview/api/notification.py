"""``app.bsky.notification.*``: listNotifications, getUnreadCount, updateSeen
(https://atproto.com/lexicons/app-bsky-notification), as the reference AppView answers them.

``reasons`` keeps only the given reasons; ``priority`` keeps notifications from accounts the
viewer follows. The ``seenAt`` parameter is refused as the reference refuses it; the
last-seen time is set with ``updateSeen``. Without one, the newest notification of the first
page is unread and the rest read (the reference's behaviour).
"""

from __future__ import annotations

from typing import Any

from sonet.appview.api.common import (
    clearly_bad_cursor,
    fill_page,
    hydrate,
    new_state,
    pack_cursor,
    unpack_cursor,
    with_cursor,
)
from sonet.appview.api.context import AppviewContext
from sonet.appview.ingest.notify import uri_did
from sonet.appview.views.hydrator import hydrate_notifications
from sonet.appview.views.notifications import notification_hidden, notification_view
from sonet.storage.appview_read_notifications import (
    last_seen,
    notifications_page,
    set_last_seen,
    unread_count,
)
from sonet.storage.appview_read_sql import Keyset, Steps, run_write
from sonet.syntax.datetime import normalize_datetime
from sonet.syntax.errors import InvalidSyntaxError
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter

__all__ = ["NotificationApi", "register"]

Out = dict[str, Any]


def _refuse_seen_at(params: dict[str, Any]) -> None:
    if params.get("seenAt"):
        raise InvalidRequestError("The seenAt parameter is unsupported")


def _notification_cursor(cursor: str | None) -> Keyset | None:
    position = unpack_cursor(cursor)
    if position is not None and not position.key.isdigit():
        raise InvalidRequestError("Malformed cursor")
    return position


class NotificationApi:
    """The ``app.bsky.notification`` handlers over ``ctx``."""

    def __init__(self, ctx: AppviewContext) -> None:
        self.ctx = ctx

    async def list_notifications(self, hc: HandlerContext[str]) -> Out:
        viewer, params = hc.auth, hc.params
        _refuse_seen_at(params)
        priority = bool(params.get("priority"))
        reasons = list(params.get("reasons") or ())
        cursor = params.get("cursor")
        seen = await hydrate(self.ctx, last_seen(viewer))
        out: Out = {"notifications": [], "priority": priority}
        if clearly_bad_cursor(cursor):
            return out
        first_seen: list[str] = []

        def seen_at() -> str | None:
            # without a last-seen time, the newest notification is the only unread one
            return seen if seen is not None or cursor else next(iter(first_seen), None)

        async def fetch(cur: str | None, n: int) -> tuple[list[Out], str | None]:
            page = await hydrate(
                self.ctx, notifications_page(viewer, n, _notification_cursor(cur), reasons)
            )
            if cur is None and page.items:
                first_seen.append(page.items[0].sort_at)
            st = new_state(self.ctx, viewer)
            await hydrate(self.ctx, hydrate_notifications(st, page.items))
            views = []
            for notif in page.items:
                if notification_hidden(st, notif):
                    continue
                rel = st.relations.get(uri_did(notif.uri))
                if priority and (rel is None or not rel.following):
                    continue
                if (view := notification_view(st, notif, seen_at())) is not None:
                    views.append(view)
            return views, pack_cursor(page.next)

        out["notifications"], next_cursor = await fill_page(fetch, cursor, params["limit"])
        with_cursor(out, next_cursor)
        if (shown := seen_at()) is not None:
            out["seenAt"] = shown
        return out

    async def get_unread_count(self, hc: HandlerContext[str]) -> Out:
        _refuse_seen_at(hc.params)

        def count() -> Steps[int]:
            seen = yield from last_seen(hc.auth)
            return (yield from unread_count(hc.auth, seen))

        return {"count": await hydrate(self.ctx, count())}

    async def update_seen(self, hc: HandlerContext[str]) -> None:
        assert hc.input is not None
        try:
            seen_at = normalize_datetime(str(hc.input.body["seenAt"]))
        except InvalidSyntaxError:
            raise InvalidRequestError("seenAt must be a valid datetime") from None
        await run_write(self.ctx.db, set_last_seen(hc.auth, seen_at))


def register(router: XrpcRouter, ctx: AppviewContext) -> None:
    """Serve the ``app.bsky.notification`` methods the AppView owns."""
    api, required = NotificationApi(ctx), ctx.viewer_auth.required()
    ns = "app.bsky.notification."
    router.query(ns + "listNotifications", api.list_notifications, auth=required)
    router.query(ns + "getUnreadCount", api.get_unread_count, auth=required)
    router.procedure(ns + "updateSeen", api.update_seen, auth=required)
