from __future__ import annotations

import json

import numpy as np
import pytest

from sampling.draw import stratified_sample
from sampling.seed import commit, new_seed, pool_digest, rng_from_seed, verify


def test_commit_reveal_round_trip():
    seed = new_seed()
    assert len(seed) == 64
    c = commit(seed)
    assert verify(seed, c)
    assert not verify(new_seed(), c)
    assert not verify("zz", c)


def test_short_or_non_hex_seed_is_refused():
    with pytest.raises(ValueError, match="128 bits"):
        commit("abcd")
    with pytest.raises(ValueError, match="hex"):
        commit("not hex at all, no")


def test_replay_from_published_json_reproduces_the_draw():
    rng = np.random.default_rng(0)
    uids = [f"9133010{i:011d}" for i in range(500)]
    grades = rng.integers(0, 4, 500)
    forced = rng.random(500) < 0.01
    seed = new_seed()
    ratios = {0: 0.02, 1: 0.05, 2: 0.1, 3: 0.3}
    original = stratified_sample(grades, ratios, forced=forced, rng=rng_from_seed(seed, purpose="entities"))
    published = json.loads(json.dumps({"uscc": uids, "grade": grades.tolist(), "forced": forced.tolist(),
                                       "seed": seed, "digest": pool_digest(uids, grades, forced)}))
    assert pool_digest(published["uscc"], published["grade"], published["forced"]) == published["digest"]
    replay = stratified_sample(np.array(published["grade"]), ratios, forced=np.array(published["forced"]),
                               rng=rng_from_seed(published["seed"], purpose="entities"))
    assert replay.indices.tolist() == original.indices.tolist()


def test_digest_detects_a_changed_pool():
    uids = ["A", "B", "C"]
    base = pool_digest(uids, [0, 1, 2])
    assert pool_digest(["A", "C", "B"], [0, 1, 2]) != base
    assert pool_digest(uids, [0, 1, 3]) != base
    with pytest.raises(ValueError, match="3 units"):
        pool_digest(uids, [0, 1])


def test_unit_keys_hide_the_entity_but_bind_it_to_its_salt():
    from sampling.seed import new_salts, unit_keys

    uids = ["91330106MA2AAAAA1X", "91330106MA2AAAAA2X", "91330106MA2AAAAA3X"]
    salts = new_salts(3)
    keys = unit_keys(uids, salts)
    assert len(set(keys.tolist())) == 3 and not any(u in k for u, k in zip(uids, keys, strict=True))
    assert unit_keys(uids[:1], salts[:1])[0] == keys[0]  # the published salt opens the row
    assert unit_keys(uids[1:2], salts[:1])[0] != keys[0]  # and no other entity's
    assert len(set(new_salts(100).tolist())) == 100
    with pytest.raises(ValueError):
        unit_keys(uids, salts[:2])
