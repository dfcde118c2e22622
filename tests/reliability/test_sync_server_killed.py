"""The server killed with SIGKILL mid-run and restarted on the same database (SQLite
file and PostgreSQL): the device's outbox drains, nothing lost, nothing stored twice."""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from reliability_helpers import bulk_tasks
from sync_harness import Killer, assert_exactly_once, device, drain, fill_outbox

from server.extensions import db


@pytest.mark.slow
def test_server_killed_and_restarted_mid_run_loses_and_duplicates_nothing(
    file_app, file_users, server_process, handheld_dir
):
    inspector = file_users["inspector"]
    task_ids = bulk_tasks(300, [inspector.inspector_id])
    store, engine = device(handheld_dir, "http://unused", inspector)
    instance_of = fill_outbox(store, task_ids, photo_every=5)
    port = server_process.start()
    rates = {"cut": 0.05, "duplicate": 0.05}
    with FaultProxy(("127.0.0.1", port), rates, seed=7) as proxy:
        engine.client.base_url = proxy.url
        killer = Killer(proxy, server_process, every=120, times=2)
        killer.start()
        drain(engine, store, max_passes=100)
        killer.done.set()
        killer.join(timeout=30)
    assert killer.error is None, killer.error
    assert killer.kills == 2
    assert server_process.starts == 3
    db.session.remove()  # the other process wrote: read afresh
    assert_exactly_once(store, instance_of, file_app.config["ATTACHMENT_DIR"])
