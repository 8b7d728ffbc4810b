"""CPU time of a server the benchmarks start as a subprocess (Linux /proc): the steady number on a
shared machine, where wall time mostly measures the wait for a core."""

from __future__ import annotations

import os
from pathlib import Path


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (e.g. uvicorn's workers)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    family, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in family]
        family.update(children)
        frontier.extend(children)
    return sum(times.get(member, 0.0) for member in family)


def children_cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each direct child of a process (e.g. each `serve --workers` worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def connections_per_child(pid: int, port: int) -> list[int]:
    """How many established TCP connections to local `port` each direct child of `pid` holds (Linux
    /proc): how the connections were spread over `serve --workers` workers. Largest first."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])  # the socket's inode
    counts = []
    for child in children_cpu_s(pid):
        held = 0
        try:
            for fd in Path(f"/proc/{child}/fd").iterdir():
                target = os.readlink(fd)
                held += target.startswith("socket:[") and target[8:-1] in established
        except OSError:
            continue
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)
