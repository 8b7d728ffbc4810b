"""Saga rollback on real stores: reverse order, failures surfaced, resumable after a crash."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from _workers import rollback_crash_worker

import railguard
from railguard.errors import ConfigurationError
from railguard.state.rollback import RollbackError, Saga, compensate, rollback, undo_action
from railguard.store import open_store

undone: list[str] = []


@undo_action("test.cancel_booking")
def cancel_booking(booking_id: str) -> None:
    undone.append(f"cancel {booking_id}")


@undo_action()
def refund_payment(payment_id: str) -> None:
    undone.append(f"refund {payment_id}")


def test_undos_run_newest_first_and_only_once(store_url: str) -> None:
    undone.clear()
    with open_store(store_url) as store:
        saga = Saga(store, "run-1")
        saga.register("test.cancel_booking", {"booking_id": "b-1"})
        saga.register(refund_payment, {"payment_id": "p-1"})
        saga.register("test.cancel_booking", {"booking_id": "b-2"})
        report = saga.rollback()
        assert undone == ["cancel b-2", "refund p-1", "cancel b-1"]
        assert report.undone == ["test.cancel_booking", f"{__name__}.refund_payment", "test.cancel_booking"]
        assert rollback(store, "run-1").undone == []  # nothing left to undo
        assert [s.status for s in saga.steps()] == ["done", "done", "done"]
        assert Saga(store, "other-run").rollback().undone == []


def test_failures_are_surfaced_after_the_others_ran_and_retried_alone(store_url: str) -> None:
    undone.clear()
    with open_store(store_url) as store:
        broken = {"calls": 0}

        def release_hold(hold_id: str) -> None:
            broken["calls"] += 1
            if broken["calls"] == 1:
                raise ConnectionError(f"bank unreachable for {hold_id}")
            undone.append(f"release {hold_id}")

        saga = Saga(store, "run-2", undos={"release_hold": release_hold})
        saga.register("test.cancel_booking", {"booking_id": "b-1"})
        saga.register("release_hold", {"hold_id": "h-1"})
        saga.register("no.such.undo", {})
        with pytest.raises(RollbackError) as caught:
            saga.rollback()
        err = caught.value
        assert [(f.undo, f.error_type) for f in err.failures] == [
            ("no.such.undo", "LookupError"),
            ("release_hold", "ConnectionError"),
        ]
        assert "2 of 3 undo(s) failed" in str(err) and "bank unreachable" not in str(err)
        assert undone == ["cancel b-1"]  # the independent undo still ran
        assert [s.status for s in saga.steps()] == ["done", "failed", "failed"]
        with pytest.raises(RollbackError) as again:  # retries only the failed ones
            saga.rollback()
        assert [f.undo for f in again.value.failures] == ["no.such.undo"]
        assert undone == ["cancel b-1", "release h-1"]


def test_rollback_resumes_after_a_crash(store_url: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    with open_store(store_url) as store:
        saga = Saga(store, "run-3", lease_s=0.5)
        for step in ("note:first", "crash:second", "note:third"):
            kind, name = step.split(":")
            saga.register(kind, {"step": name})
    worker = multiprocessing.get_context("spawn").Process(
        target=rollback_crash_worker, args=(store_url, "run-3", str(journal))
    )
    worker.start()
    worker.join(60)
    assert worker.exitcode == 17
    assert journal.read_text().splitlines() == ["third", "second"]  # died inside the second undo

    def note(step: str) -> None:
        with journal.open("a") as out:
            out.write(step + "\n")

    with open_store(store_url) as store:
        resumed = Saga(store, "run-3", undos={"note": note, "crash": note}, lease_s=0.5)
        statuses = [s.status for s in resumed.steps()]
        assert statuses == ["pending", "running", "done"]
        report = resumed.rollback()
        for _ in range(600):  # the crashed step is claimable once its lease expired
            if not report.in_progress_elsewhere:
                break
            assert report.undone == [] and report.in_progress_elsewhere == ["crash"]  # order kept
            threading.Event().wait(0.05)
            report = resumed.rollback()
        assert report.undone == ["crash", "note"]
        assert journal.read_text().splitlines() == ["third", "second", "second", "first"]
        assert [s.attempts for s in resumed.steps()] == [1, 2, 1]


def test_compensate_decorators_register_after_success_only(tmp_path: Path) -> None:
    undone.clear()
    with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        with railguard.run(run_id="trip-9"):
            saga = Saga(store)

            @saga.compensate(undo=cancel_booking, args=lambda result, *a, **kw: {"booking_id": result["id"]})
            def book(city: str) -> dict[str, str]:
                if city == "Atlantis":
                    raise ValueError("no such city")
                return {"id": f"bk-{city}"}

            @compensate(undo="test.cancel_booking", args=lambda result, city: {"booking_id": city})
            def hold(city: str) -> str:
                return "held"

            book("Paris")
            with pytest.raises(ValueError):
                book("Atlantis")
            with pytest.raises(ConfigurationError, match="active saga"):
                hold("Rome")
            with saga.active():
                hold("Rome")
        assert [s.args for s in saga.steps()] == [{"booking_id": "bk-Paris"}, {"booking_id": "Rome"}]
        saga.rollback()
        assert undone == ["cancel Rome", "cancel bk-Paris"]


def test_saga_needs_a_run_and_json_arguments(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        with pytest.raises(ConfigurationError, match="run id"):
            Saga(store)
        with pytest.raises(ConfigurationError, match="JSON"):
            Saga(store, "r").register("x", {"when": object()})
