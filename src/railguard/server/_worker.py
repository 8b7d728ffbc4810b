"""One `railguard serve --workers N` worker under the supervisor (_supervisor.py): uvicorn serving the
app of `railguard.cli._serve:app_from_env` (its settings come through the environment) on the
listening socket the supervisor passed by file descriptor.

    python -m railguard.server._worker --fd 5 --supervisor 1234 [--log-level info] [--access-log]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from railguard.server._supervisor import exit_with_supervisor

STARTUP_FAILURE = 3  # uvicorn's exit code when the app did not start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="railguard.server._worker")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket's file descriptor")
    parser.add_argument("--supervisor", type=int, required=True, help="the supervisor's pid")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    exit_with_supervisor(args.supervisor)
    import uvicorn

    from railguard.server._http import http_protocol

    config = uvicorn.Config(
        "railguard.cli._serve:app_from_env", factory=True, log_level=args.log_level,
        access_log=args.access_log, http=http_protocol(),
    )  # fmt: skip
    server = uvicorn.Server(config)
    server.run(sockets=[socket.socket(fileno=args.fd)])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def command(fd: int, *, log_level: str, access_log: bool) -> list[str]:
    """The argv of a worker serving on `fd` (the calling process is its supervisor)."""
    argv = [
        sys.executable,
        "-m",
        "railguard.server._worker",
        "--fd",
        str(fd),
        "--supervisor",
        str(os.getpid()),
    ]
    return [*argv, "--log-level", log_level, *(["--access-log"] if access_log else [])]


if __name__ == "__main__":
    main()
