"""Test helpers for the `serve --workers N` supervisor (loaded by path, run as real processes).

python supervised_echo.py worker FD      # a worker: answers each connection with its pid
python supervised_echo.py supervise N    # a supervisor of N such workers on a free loopback port
                                         # (prints the port, then runs until SIGTERM/SIGINT)
"""

from __future__ import annotations

import os
import socket
import sys


def worker(fd: int) -> None:
    from railguard.server._supervisor import exit_with_supervisor

    exit_with_supervisor(os.getppid())
    listener = socket.socket(fileno=fd)
    while True:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(f"{os.getpid()}\n".encode())


def supervise(count: int) -> None:
    from railguard.server._supervisor import Supervisor, reuseport_sockets

    sockets = reuseport_sockets("127.0.0.1", 0, count)
    print(sockets[0].getsockname()[1], flush=True)

    def command(_index: int, fd: int) -> list[str]:
        return [sys.executable, os.path.abspath(__file__), "worker", str(fd)]

    Supervisor(sockets, command, graceful_s=10.0).run()
    print("stopped", flush=True)


if __name__ == "__main__":
    role, number = sys.argv[1], int(sys.argv[2])
    worker(number) if role == "worker" else supervise(number)
