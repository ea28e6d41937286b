"""Locks by key: the same lock for the same key, and a fixed number however many keys."""

from tenant_backup.core.keylocks import STRIPES, KeyLocks


def test_a_key_always_gets_its_lock_and_many_keys_share_a_fixed_set() -> None:
    locks: KeyLocks[tuple[str, str]] = KeyLocks()
    keys = [("tenants", f"nightly-{n}") for n in range(10_000)]
    assert locks[keys[0]] is locks[("tenants", "nightly-0")]
    with locks[keys[0]]:
        assert locks[("tenants", "nightly-0")].locked()
    assert len({id(locks[key]) for key in keys}) <= STRIPES
