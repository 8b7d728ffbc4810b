"""Idempotency answers: the first writer wins on every replica (each with its own in-memory cache),
a replica's cache never answers for another tenant, stays bounded, and the store stays the
authority for what a replica has not seen (SQLite and PostgreSQL)."""

from __future__ import annotations

from railguard.store import GuardAnswers, Store, open_store


def test_first_writer_wins_across_replicas(store: Store, store_url: str) -> None:
    with open_store(store_url) as other_store:
        one, two = GuardAnswers(store), GuardAnswers(other_store)
        assert one.get("acme", "d1") is None and two.get("acme", "d1") is None
        assert one.put("acme", "d1", {"verdict": "allow", "n": 1}) == {"verdict": "allow", "n": 1}
        # The other replica answered the same call later with something else: it gets the first.
        assert two.put("acme", "d1", {"verdict": "block", "n": 2}) == {"verdict": "allow", "n": 1}
        assert two.get("acme", "d1") == {"verdict": "allow", "n": 1}
        assert GuardAnswers(other_store).get("acme", "d1") == {"verdict": "allow", "n": 1}


def test_the_cache_is_per_tenant_bounded_and_hands_out_copies(store: Store) -> None:
    answers = GuardAnswers(store, cache_size=2)
    answers.put("acme", "d1", {"verdict": "allow"})
    assert answers.cached("acme", "d1") == {"verdict": "allow"}
    assert answers.cached("globex", "d1") is None and answers.get("globex", "d1") is None
    handed = answers.cached("acme", "d1")
    assert handed is not None
    handed["verdict"] = "block"  # a caller changing its copy changes nothing stored or cached
    assert answers.get("acme", "d1") == {"verdict": "allow"}
    answers.put("acme", "d2", {"verdict": "block"})
    answers.put("acme", "d3", {"verdict": "ask"})
    assert answers.cached("acme", "d1") is None  # evicted: the oldest of three in a cache of two
    assert answers.get("acme", "d1") == {"verdict": "allow"}  # the store still has it
    assert answers.cached("acme", "d1") == {"verdict": "allow"}


def test_many_answers_in_one_transaction_keep_first_writer_wins(store: Store, store_url: str) -> None:
    with open_store(store_url) as other_store:
        GuardAnswers(other_store).put("acme", "d1", {"verdict": "allow", "n": 1})  # another replica's
        answers = GuardAnswers(store)
        stored = answers.put_many(
            [
                ("acme", "d1", {"verdict": "block", "n": 2}),  # stored before: the first answer stands
                ("acme", "d2", {"verdict": "block", "n": 3}),
                ("acme", "d2", {"verdict": "allow", "n": 4}),  # the same call twice in one group
                ("globex", "d2", {"verdict": "allow", "n": 5}),  # another tenant's own answer
            ]
        )
        assert [a["n"] for a in stored] == [1, 3, 3, 5]
        fresh = GuardAnswers(other_store)  # nothing cached: what the store holds
        assert [a and a["n"] for a in fresh.get_many([("acme", "d2"), ("acme", "d9"), ("globex", "d2")])] == [
            3,
            None,
            5,
        ]
