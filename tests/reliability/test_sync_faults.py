"""The handheld's outbox over a hostile network, and over a server killed mid-run.

Every submission goes from the device's outbox through :class:`FaultProxy` (drops,
delays, late duplicates, concurrent duplicates, answers cut after the commit) to a
live server. The end state must be exact: one stored submission and one inspection
result per task, none twice, none missing, every photo stored once with the right
bytes, the device's outbox empty and the audit chain intact.
"""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from reliability_helpers import bulk_tasks
from sync_harness import READ_TIMEOUT, assert_exactly_once, device, drain, fill_outbox

RATES = {"drop": 0.05, "delay": 0.05, "late": 0.005, "duplicate": 0.06, "cut": 0.08}


@pytest.mark.slow
def test_thousand_submissions_through_a_faulty_network_are_stored_exactly_once(
    app, users, live_server, handheld_dir
):
    inspector = users["inspector"]
    task_ids = bulk_tasks(1000, [inspector.inspector_id, users["inspector2"].inspector_id])
    store, engine = device(handheld_dir, "http://unused", inspector)
    instance_of = fill_outbox(store, task_ids, photo_every=1)  # every result with its photo
    with FaultProxy(
        ("127.0.0.1", live_server.server_port), RATES, seed=13, late_delay=READ_TIMEOUT + 0.4
    ) as proxy:
        engine.client.base_url = proxy.url
        passes = drain(engine, store)
    assert_exactly_once(store, instance_of, app.config["ATTACHMENT_DIR"])
    # the faults really happened, and the device did recover answers lost after a commit
    assert all(proxy.counts[f] > 0 for f in RATES), proxy.counts
    assert passes > 1
    events = [r["event"] for r in store._all("SELECT event FROM sync_log")]
    assert events.count("already_stored") > 0  # a 200 replay: the first answer was lost
    assert events.count("submitted") + events.count("already_stored") >= len(task_ids)


def test_answer_cut_inside_its_headers_is_not_taken_for_a_success(
    app, users, live_server, handheld_dir
):
    inspector = users["inspector"]
    task_ids = bulk_tasks(30, [inspector.inspector_id])
    store, engine = device(handheld_dir, "http://unused", inspector)
    instance_of = fill_outbox(store, task_ids, photo_every=1000)
    with FaultProxy(("127.0.0.1", live_server.server_port), {"cut_head": 0.5}, seed=5) as proxy:
        engine.client.base_url = proxy.url
        drain(engine, store)
    assert_exactly_once(store, instance_of, app.config["ATTACHMENT_DIR"])
