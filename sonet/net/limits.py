"""Reading response bodies with a hard size limit."""

from __future__ import annotations

from typing import Final

from aiohttp import ClientResponse

from sonet.net.errors import ResponseTooLargeError

_CHUNK: Final = 64 * 1024


async def read_limited(resp: ClientResponse, max_bytes: int) -> bytes:
    """The (decoded) body of ``resp``, or :class:`ResponseTooLargeError` past ``max_bytes``.

    A too-large ``Content-Length`` is refused before reading; a body without one is
    read only until it passes the limit, and the connection is then dropped.
    """
    length = resp.content_length
    if length is not None and length > max_bytes:
        resp.close()
        raise ResponseTooLargeError(max_bytes, length)
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            resp.close()
            raise ResponseTooLargeError(max_bytes)
    return bytes(body)
