"""Bounded query and path parameters shared by the routes: a number the database cannot hold is a
422 with the allowed range, never a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**31 - 1
MAX_UNIX_S = 10_000_000_000.0  # year 2286: beyond it nanoseconds no longer fit 64 bits

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")]
SeqBefore = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Keyset page: the last number seen.")]
Rev = Annotated[int, Path(ge=1, le=MAX_ID, description="The revision number (r3 -> 3).")]
UnixTime = Annotated[float | None, Query(ge=0, le=MAX_UNIX_S, description="Unix seconds.")]
WaitSeconds = Annotated[float, Query(ge=0, le=60, description="Long-poll at most this long (0-60 s).")]
