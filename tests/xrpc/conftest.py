from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.xrpc.toy import Client, Toy, toy_app, toy_router


@pytest.fixture
def toy() -> Toy:
    return toy_router()


@pytest.fixture
async def client(toy: Toy) -> AsyncIterator[Client]:
    async with TestClient(TestServer(toy_app(toy), host="127.0.0.1")) as test_client:
        yield test_client
