"""railguard.diagnose: findings over the store (what keeps going wrong, what changed), run labels,
and the root cause of one run.

    result = run_detectors(store, since=time.time() - 7 * 86400)
    for finding in result.findings: print(finding.to_json())
    set_status(store, finding.id, "acknowledged", by="ana")
    label_run(store, trace_id, label="failure", note="wrong refund", by="ana", tenant="acme")
"""

from railguard.diagnose._run import DiagnoseResult, run_detectors
from railguard.diagnose.findings import (
    KINDS,
    SEVERITIES,
    STATUSES,
    Finding,
    get_finding,
    list_findings,
    set_status,
    severity_rank,
)
from railguard.diagnose.labels import RunLabel, label_run, list_labels
from railguard.diagnose.why import Why, stored_why, why

__all__ = [
    "KINDS",
    "SEVERITIES",
    "STATUSES",
    "DiagnoseResult",
    "Finding",
    "RunLabel",
    "Why",
    "get_finding",
    "label_run",
    "list_findings",
    "list_labels",
    "run_detectors",
    "set_status",
    "severity_rank",
    "stored_why",
    "why",
]
