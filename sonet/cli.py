"""The ``sonet`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sonet.cli_account import add_account_commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sonet`` console script."""
    parser = argparse.ArgumentParser(prog="sonet", description="AT Protocol server suite")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run every role in one process on the embedded default")
    sub.add_parser("pds", help="run the PDS alone (SONET_PLC_URL names the PLC directory)")
    sub.add_parser("plc", help="run the did:plc directory on SONET_PLC_PORT (default 2582)")
    sub.add_parser("relay", help="run the relay on SONET_RELAY_PORT (default 2470)")
    sub.add_parser(
        "appview", help="run the AppView on SONET_APPVIEW_PORT (default 2584), indexing a firehose"
    )
    add_account_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        from sonet.server import run_serve

        run_serve()
    elif args.command == "pds":
        from sonet.server import run_pds

        run_pds()
    elif args.command == "plc":
        from sonet.identity.plc_server import run_from_env

        run_from_env()
    elif args.command == "relay":
        from sonet.relay.app import run_from_env as run_relay

        run_relay()
    elif args.command == "appview":
        from sonet.appview.app import run_appview

        run_appview()
    elif args.command == "account":
        result = args.run(args)
        return int(result or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
