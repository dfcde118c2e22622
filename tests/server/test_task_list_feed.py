"""An inspector's task list: cached per version, ``ETag``/``304``, and every write that
changes what the list shows makes the next poll return the new list (on SQLite and
PostgreSQL, through the database's triggers — whichever way the write is made)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from factories import entity, inspector, red_warnings, task
from sqlalchemy import delete, event, text, update

from server.extensions import db
from server.tasks import feed
from server.tasks.models import Inspector, Task, TaskAssignment


@pytest.fixture
def people(users: dict[str, Any]) -> dict[str, Inspector]:
    return {
        "me": db.session.get(Inspector, users["inspector"].inspector_id),
        "colleague": db.session.get(Inspector, users["inspector2"].inspector_id),
    }


@pytest.fixture
def poll(client: Any, auth: Any, people: dict[str, Inspector]) -> Callable[..., Any]:
    headers = auth.headers("inspector")

    def get(etag: str | None = None) -> Any:
        extra = {"If-None-Match": etag} if etag else {}
        return client.get("/api/v1/tasks", headers={**headers, **extra})

    return get


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)


def only_task(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    items = response.get_json()["items"]
    assert len(items) == 1
    return dict(items[0])


def test_an_unchanged_list_comes_from_the_cache_and_answers_304(poll, people):
    task([people["me"], people["colleague"]])
    first = poll()
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert tag.startswith('W/"tasks-') and first.headers["Cache-Control"] == "private, no-cache"

    with statements() as run:
        again = poll()
    assert again.data == first.data and again.headers["ETag"] == tag
    # the token and the version, nothing more: no list query, no marking as seen
    assert len(run) == 2, run

    unchanged = poll(tag)
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == tag
    assert poll('W/"tasks-0-0.0-all-500"').status_code == 200  # someone else's tag


def test_first_poll_marks_new_tasks_seen_without_changing_the_version(poll, people):
    t = task([people["me"]])
    tag = poll().headers["ETag"]
    seen_at = db.session.scalar(
        db.select(TaskAssignment.seen_at).where(TaskAssignment.task_id == t.id))
    assert seen_at is not None
    assert poll(tag).status_code == 304


def _rename_entity_elsewhere(t: Task, people: dict[str, Inspector]) -> None:
    # another connection, plain SQL: what another process or a DBA would do
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE entities SET name = '新名称餐饮店' WHERE id = :id"),
                     {"id": t.entity_id})


def _credit_run(t: Task, people: dict[str, Inspector]) -> None:
    from server.credit.services import CreditGrades, store_credit

    ids = np.array([t.entity_id])
    grades = CreditGrades(np.array([512.5]), np.array(["D"]), [[]], np.array([""]),
                          np.array([False]))
    store_credit(db.session, ids, dt.date(2026, 3, 1), grades, "2")


def _state_change(t: Task, people: dict[str, Inspector]) -> None:
    db.session.execute(update(Task).where(Task.id == t.id).values(state="in_progress"))
    db.session.commit()


def _colleague_swapped(t: Task, people: dict[str, Inspector]) -> None:
    other = inspector("孙替换")
    db.session.execute(update(TaskAssignment)
                       .where(TaskAssignment.inspector_id == people["colleague"].id)
                       .values(inspector_id=other.id))
    db.session.commit()


def _colleague_renamed(t: Task, people: dict[str, Inspector]) -> None:
    people["colleague"].name = "赵改名"
    db.session.commit()


def _warning_handled(t: Task, people: dict[str, Inspector]) -> None:
    from server.warnings.models import Warning

    db.session.execute(update(Warning).where(Warning.id == t.warning_id).values(state="verifying"))
    db.session.commit()


def _round_renamed(t: Task, people: dict[str, Inspector]) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE sampling_rounds SET name = '改名后的抽查计划' WHERE id = :id"),
                     {"id": t.round_id})


def _item_reworded(t: Task, people: dict[str, Inspector]) -> None:
    from server.reference.models import CheckItem

    db.session.get(CheckItem, "T-01").item = "改写后的检查内容"
    db.session.commit()


CHANGES: dict[str, tuple[Callable[..., None], Callable[[dict[str, Any]], Any]]] = {
    "task state": (_state_change, lambda item: item["state"] == "in_progress"),
    "entity renamed by another connection": (
        _rename_entity_elsewhere, lambda item: item["entity"]["name"] == "新名称餐饮店"),
    "credit run (bulk raw update)": (
        _credit_run, lambda item: item["entity"]["credit_grade"] == "D"
        and item["entity"]["credit_score"] == 512.5),
    "co-inspector swapped": (
        _colleague_swapped, lambda item: "孙替换" in {p["name"] for p in item["inspectors"]}),
    "co-inspector renamed": (
        _colleague_renamed, lambda item: "赵改名" in {p["name"] for p in item["inspectors"]}),
    "warning handled": (_warning_handled, lambda item: item["warning"]["state"] == "verifying"),
    "round renamed": (_round_renamed, lambda item: item["round"]["name"] == "改名后的抽查计划"),
    "check item reworded": (
        _item_reworded, lambda item: item["check_items"][0]["item"] == "改写后的检查内容"),
}


def _rich_task(people: dict[str, Inspector]) -> Task:
    """A task with a warning, a round and a check item: everything a list shows."""
    from server.reference.models import CheckItem
    from server.rounds.models import SamplingRound

    e = entity()
    warning_id = red_warnings([e])[0]
    r = SamplingRound(name="2026年第一批双随机抽查", channel="random", department_codes=[],
                      check_item_codes=["T-01"], scope={}, period_start=dt.date(2026, 3, 1),
                      period_end=dt.date(2026, 6, 30), design="uniform", ratios={"overall": 0.05},
                      force_warning_levels=[], exclusions={}, inspector_pool={}, recusal={})
    db.session.add_all([r, CheckItem(code="T-01", department_kind="FOOD", domain="food_safety",
                                     category="食品经营", item="检查许可证", object="食品经营者",
                                     item_class="一般", method="现场检查",
                                     legal_basis="《食品安全法》第三十五条")])
    db.session.flush()
    t = task([people["me"], people["colleague"]], the_entity=e, warning_id=warning_id)
    t.round_id, t.check_items = r.id, ["T-01"]
    db.session.commit()
    return t


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_write_a_list_shows_makes_the_next_poll_new(poll, people, change):
    t = _rich_task(people)
    before = poll()
    item = only_task(before)
    write, shows = CHANGES[change]
    assert not shows(item)

    write(t, people)

    after = poll(before.headers["ETag"])
    assert shows(only_task(after)), only_task(after)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert poll(after.headers["ETag"]).status_code == 304


def test_assigned_and_withdrawn_tasks_appear_and_disappear(poll, people):
    first = task([people["me"]])
    tag = poll().headers["ETag"]
    second = task([people["me"], people["colleague"]])  # a draw, through the ORM
    listed = poll(tag)
    assert [i["id"] for i in listed.get_json()["items"]] == [first.id, second.id]
    with db.engine.begin() as conn:  # reassigned away, Core
        conn.execute(delete(TaskAssignment).where(TaskAssignment.task_id == first.id,
                                                  TaskAssignment.inspector_id == people["me"].id))
    assert [i["id"] for i in poll(listed.headers["ETag"]).get_json()["items"]] == [second.id]


def test_writes_that_do_not_concern_the_list_keep_it(poll, people):
    mine = task([people["me"]])
    theirs = task([people["colleague"]])
    tag = poll().headers["ETag"]
    db.session.execute(update(Task).where(Task.id == theirs.id).values(state="in_progress"))
    with db.engine.begin() as conn:  # a column the list does not show
        conn.execute(text("UPDATE entities SET phone = '0571-00000000' WHERE id = :id"),
                     {"id": mine.entity_id})
    # the credit run writes the same grade and score again: nothing really changed
    e = db.session.get(type(mine.entity), mine.entity_id)
    db.session.execute(
        text("UPDATE entities SET credit_grade = :g, credit_score = :s WHERE id = :id"),
        {"g": e.credit_grade, "s": e.credit_score, "id": e.id})
    db.session.commit()
    assert poll(tag).status_code == 304


def test_lists_with_a_since_cursor_and_office_lists_are_not_cached(client, auth, people, users):
    task([people["me"]])
    headers = auth.headers("inspector")
    since = client.get("/api/v1/tasks", query_string={"since": "2020-01-01T00:00:00+00:00"},
                       headers=headers)
    assert since.status_code == 200 and "ETag" not in since.headers
    office = client.get("/api/v1/tasks", headers=auth.headers("supervisor"))
    assert office.status_code == 200 and "ETag" not in office.headers


def test_the_cache_is_bounded_and_keyed_by_version():
    cache = feed.ListCache(max_bytes=1000)
    cache.put(("a",), "1.1", b"x" * 300)
    assert cache.get(("a",), "1.1") == b"x" * 300
    assert cache.get(("a",), "2.1") is None  # a newer version never gets the old list
    cache.put(("b",), "1.1", b"y" * 300)
    cache.put(("c",), "1.1", b"z" * 300)  # over 1000 bytes with overhead: "a" goes
    assert cache.get(("a",), "1.1") is None and cache.get(("c",), "1.1") is not None
    cache.put(("big",), "1.1", b"w" * 5000)  # larger than the whole cache: not kept
    assert cache.get(("big",), "1.1") is None


def test_triggers_exist_after_migrations_and_after_create_all(app):
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            names = set(conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
        else:
            names = set(conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars())
        assert {t.name for t in feed.TRIGGERS} <= names
        assert {"task_list_epoch", "task_list_changes"} <= set(inspect(conn).get_table_names())
        assert conn.exec_driver_sql("SELECT count(*) FROM task_list_epoch").scalar() == 1


def test_compacting_the_change_log_keeps_every_version(poll, people):
    t = task([people["me"], people["colleague"]])
    for state in ("in_progress", "assigned", "in_progress"):
        db.session.execute(update(Task).where(Task.id == t.id).values(state=state))
        db.session.commit()
    tag = poll().headers["ETag"]
    versions = {i.id: feed.list_version(db.session, i.id) for i in people.values()}
    assert db.session.scalar(text("SELECT count(*) FROM task_list_changes")) > 2

    assert feed.compact(db.session) > 0
    db.session.commit()
    assert db.session.scalar(text("SELECT count(*) FROM task_list_changes")) == 2  # one each
    assert {i.id: feed.list_version(db.session, i.id) for i in people.values()} == versions
    assert poll(tag).status_code == 304


def test_concurrent_writers_do_not_wait_for_each_other_on_the_versions(app, people):
    """Two transactions change two tasks that share both inspectors, in opposite order: on
    PostgreSQL neither waits for the other (a counter row per inspector would make the
    second wait, and two such writers could deadlock)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one transaction write at a time")
    me, colleague = people["me"], people["colleague"]
    first, second = task([me, colleague]), task([colleague, me])
    with db.engine.connect() as a, db.engine.connect() as b:
        a.exec_driver_sql("SET lock_timeout = '2s'")
        b.exec_driver_sql("SET lock_timeout = '2s'")
        a.execute(update(Task).where(Task.id == first.id).values(state="in_progress"))
        b.execute(update(Task).where(Task.id == second.id).values(state="in_progress"))
        b.commit()  # would time out if it waited for a's uncommitted change
        a.commit()
    assert {feed.list_version(db.session, i.id) for i in (me, colleague)} != {"0.0.0"}


def test_a_change_committed_after_a_newer_one_still_changes_the_version(poll, people):
    """PostgreSQL numbers rows when they are inserted, not when they commit: a list built
    between a later-numbered commit and an earlier-numbered one must not stay cached."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite commits its writers one at a time, in order")
    first, second = task([people["me"]]), task([people["me"]])
    with db.engine.connect() as slow, db.engine.connect() as quick:
        slow.execute(update(Task).where(Task.id == first.id).values(state="in_progress"))
        quick.execute(update(Task).where(Task.id == second.id).values(state="in_progress"))
        quick.commit()
        between = poll()  # sees the second task's change, not yet the first's
        states = {i["id"]: i["state"] for i in between.get_json()["items"]}
        assert states == {first.id: "assigned", second.id: "in_progress"}
        slow.commit()
    after = poll(between.headers["ETag"])
    assert after.status_code == 200
    assert {i["id"]: i["state"] for i in after.get_json()["items"]}[first.id] == "in_progress"
