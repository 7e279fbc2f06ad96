"""Runs Sonet's roles together in one process: the embedded default behind ``sonet serve``.

With no ``SONET_PLC_URL`` the built-in PLC directory runs beside the PDS (``SONET_PLC_PORT``,
default 2582), so a laptop or a private network needs nothing from outside; with no
``SONET_APPVIEW_URL`` an AppView (``SONET_APPVIEW_PORT``, default 2584) indexes the PDS's firehose
and serves the ``app.bsky.*`` calls the PDS proxies to it, trusting the PDS to answer for the
handles under its user domains (``alice.test`` resolves on a machine without DNS for it).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import replace

from aiohttp import web

from sonet.appview.app import build_appview_app, create_appview, ingest_service
from sonet.appview.config import AppviewConfig
from sonet.identity.plc_server import create_app as create_plc_app
from sonet.pds.app import build_pds_app, create_pds
from sonet.pds.config import PdsConfig
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import PlcStore, migrate_plc

__all__ = ["run_pds", "run_serve"]

log = logging.getLogger("sonet")


def _bind_host(config: PdsConfig) -> str:
    return "127.0.0.1" if config.hostname in ("localhost", "127.0.0.1") else "0.0.0.0"


async def _start(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _serve(env: Mapping[str, str], *, with_plc: bool) -> None:
    config = PdsConfig.from_env(env)
    host = _bind_host(config)
    runners: list[web.AppRunner] = []
    plc_db: Database | None = None
    if with_plc and config.plc_url is None:
        plc_port = int(env.get("SONET_PLC_PORT", "2582"))
        config.data_dir.mkdir(parents=True, exist_ok=True)
        plc_db = Database.open(
            env.get("SONET_PLC_DATABASE_URL")
            or sqlite_url((config.data_dir / "plc.sqlite").resolve())
        )
        await migrate_plc(plc_db)
        runners.append(await _start(create_plc_app(PlcStore(plc_db)), host, plc_port))
        config = replace(config, plc_url=f"http://localhost:{plc_port}")
        log.info("PLC directory on http://%s:%d", host, plc_port)
    appview_config: AppviewConfig | None = None
    if with_plc and config.appview_url is None:
        appview_config = AppviewConfig.from_env(
            {
                "SONET_APPVIEW_DATA_DIR": str(config.data_dir / "appview"),
                "SONET_APPVIEW_FIREHOSE_URL": config.public_url,
                "SONET_APPVIEW_TRUSTED_PDS": config.public_url,
                "SONET_PLC_URL": config.plc_url or "",
                **env,
            }
        )
        config = replace(
            config, appview_url=appview_config.public_url, appview_did=appview_config.service_did
        )
    ctx = await create_pds(config)
    runners.append(await _start(build_pds_app(ctx), host, config.port))
    log.info(
        "PDS %s on http://%s:%d (data in %s)", config.public_url, host, config.port, config.data_dir
    )
    if appview_config is not None:
        appview = await create_appview(appview_config)
        runners.append(await _start(build_appview_app(appview), host, appview_config.port))
        ingest = ingest_service(appview)
        await ingest.start()
        appview.services["ingest"] = ingest
        log.info("AppView %s on %s", appview_config.service_did, appview_config.public_url)
    # what start-up built (modules, lexicons, compiled validators) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise stall every
    # request in flight for tens of milliseconds
    gc.collect()
    gc.freeze()
    print(
        f"Sonet is running: PDS at {config.public_url}, PLC at {config.plc_url},"
        f" AppView at {config.appview_url}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        if plc_db is not None:
            await plc_db.close()


def run_serve() -> None:
    """Every role in one process on the embedded default (``sonet serve``)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_serve(os.environ, with_plc=True))


def run_pds() -> None:
    """The PDS alone (``sonet pds``); it uses ``SONET_PLC_URL`` (default localhost:2582)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    env = dict(os.environ)
    env.setdefault("SONET_PLC_URL", "http://localhost:2582")
    asyncio.run(_serve(env, with_plc=False))
