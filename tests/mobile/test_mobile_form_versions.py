"""A draft begun on an earlier version of its form moves onto the version the device holds."""

from __future__ import annotations

from screen_data import fill_store

from mobile.core import formengine


def test_a_draft_moves_to_the_refreshed_form_keeping_what_still_fits(tmp_path):
    h = fill_store(tmp_path / "device")
    form = h.store.form("catering")
    h.open_draft(102)
    # as left by last year's 是/否 form: fs01 answered "yes", a remark, a conclusion
    h.store.rebase_draft(102, "2026.1", {"premises_open": "open", "fs01": "yes", "remarks": "门店装修中",
                                         "result_category": "no_problem", "follow_up": "none"})
    draft = h.open_draft(102)
    assert draft.form_version == str(form["version"])
    assert draft.answers == {"premises_open": "open", "remarks": "门店装修中",
                             "result_category": "no_problem", "follow_up": "none"}
    body, check = h.build_submission(102)
    assert body["form_version"] == form["version"]
    assert "fs01" in check.errors  # to be answered again as 符合/不符合/不适用
    assert (body["result_category"], body["follow_up"]) == ("no_problem", "none")


def test_the_conclusion_must_be_chosen_on_the_device(tmp_path):
    h = fill_store(tmp_path / "device")
    h.open_draft(103)
    _, _, items = h.form_for_task(103)
    assert h.answer(103, "premises_open", "not_found") is None
    check = h.conclusion(103)
    assert check.errors == {"result_category": "请选择检查结论（向社会公示的结果）", "follow_up": "请选择后续处置"}
    assert [c["value"] for c in formengine.conclusion_items(items, h.open_draft(103).answers)[0]["choices"]] == [
        "annual_report_not_published", "unreachable"]
    assert "与检查记录不符" in h.answer(103, "result_category", "no_problem")
    assert h.answer(103, "result_category", "unreachable") is None
    assert "不符" in h.answer(103, "follow_up", "rectified")
    assert h.answer(103, "follow_up", "listed_abnormal") is None
