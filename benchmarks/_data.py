"""Where the public evaluation data lives: `$RAILGUARD_EVAL_DATA`, else `shared/data` beside the
checkout (the layout CI and development machines use). Never copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("RAILGUARD_EVAL_DATA") or REPO.parent / "shared" / "data")
NL2BASH = SHARED_DATA / "shell" / "nl2bash_all.cm"
