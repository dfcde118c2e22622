"""What the screens call: one object joining the store, API client, form engine and sync.

Screens stay thin: they read plain dicts and strings from here and pass the
inspector's input back. Nothing here imports Kivy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobile.core import formengine
from mobile.core.api import ApiClient, ApiError, Unreachable
from mobile.core.laws import LawLibrary, format_ref
from mobile.core.store import Attachment, Draft, OutboxEntry, Store, now_iso
from mobile.core.sync import SyncEngine

__all__ = ["CHANNELS", "Handheld", "LoginError", "TaskView", "size_label"]

CHANNELS = {"random": "随机抽查", "credit_weighted": "信用分类抽查", "warning": "风险预警核查"}
OPEN_STATES = ("assigned", "in_progress")
LOG_EVENTS = {
    "finalized": "完成检查",
    "submitted": "提交成功",
    "already_stored": "服务器已有（重复提交）",
    "attachment": "附件",
    "sent": "上传完成",
    "retry": "稍后重试",
    "rejected": "被退回",
    "attachment_refused": "附件被退回",
    "resend": "重新发送",
    "retaken": "重新拍照",
    "reopened": "重新编辑",
    "login": "登录",
    "refresh": "下载",
}
OUTBOX_LABELS = {
    "pending": "待上传",
    "uploading": "上传中",
    "blocked": "附件被退回，待处理",
    "sent": "已上传",
    "rejected": "被退回",
}
GRADE_LABELS = {"A": "A 低风险", "B": "B 一般风险", "C": "C 较高风险", "D": "D 高风险"}


class LoginError(Exception):
    pass


@dataclass
class TaskView:
    """One row of the task list, already in the words the inspector reads."""

    id: int
    tab: str  # today / overdue / done
    entity_name: str
    uscc: str
    address: str
    credit_grade: str
    due_on: str
    status: str
    why: str
    task: dict[str, Any]


def _hash_password(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 200_000).hex()


class Handheld:
    def __init__(
        self, data_dir: str | Path, server_url: str | None = None, *, http_session: Any = None
    ) -> None:
        self.store = Store(data_dir)
        if server_url:
            self.store.set_setting("server_url", server_url.rstrip("/"))
        url = self.store.setting("server_url") or "http://127.0.0.1:8000"
        self.client = ApiClient(url, self.store.setting("token"), session=http_session)
        self.sync_engine = SyncEngine(self.store, self.client)
        self.laws = LawLibrary(self.store)

    def close(self) -> None:
        self.store.close()

    # -- login ------------------------------------------------------------------------
    @property
    def user(self) -> dict[str, Any] | None:
        return self.store.setting("user")

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in online; without signal, accept the last user who logged in on this device.

        The password is checked offline against a salted PBKDF2 hash kept from the last
        online login, so a lost phone does not open without it.
        """
        username = username.strip()
        if not username or not password:
            raise LoginError("请输入用户名和密码")
        try:
            body = self.client.login(username, password)
        except Unreachable:
            cached = self.store.setting("offline_login") or {}
            if cached.get("username") != username:
                raise LoginError("无法连接服务器，且本机没有该用户的离线登录记录") from None
            digest = _hash_password(password, bytes.fromhex(cached["salt"]))
            if not hmac.compare_digest(digest, cached["hash"]):
                raise LoginError("密码错误（离线登录）") from None
            self.store.set_setting("user", cached["user"])
            self.store.log("login", f"{username} 离线登录")
            return dict(cached["user"])
        except ApiError as exc:
            raise LoginError(exc.message) from None
        user = dict(body["user"])
        if "inspector" not in user.get("roles", []):
            self.client.token = None
            raise LoginError("该账号不是执法人员，不能使用执法终端")
        salt = os.urandom(16)
        self.store.set_setting("token", body["token"])
        self.store.set_setting("token_expires_at", str(body.get("expires_at")))
        self.store.set_setting("user", user)
        self.store.set_setting(
            "offline_login",
            {
                "username": username,
                "salt": salt.hex(),
                "hash": _hash_password(password, salt),
                "user": user,
            },
        )
        self.store.log("login", f"{username} 在线登录")
        return user

    def logout(self) -> None:
        try:
            self.client.logout()
        except ApiError:
            pass  # offline: the token expires on its own
        self.client.token = None
        self.store.set_setting("token", None)
        self.store.set_setting("user", None)
        self.store.set_setting("tasks_etag", None)

    # -- tasks ------------------------------------------------------------------------
    def why_drawn(self, task: dict[str, Any]) -> str:
        channel = CHANNELS.get(task.get("channel", ""), task.get("channel") or "")
        parts = [channel]
        if task.get("round"):
            parts.append(f"抽查计划：{task['round']['name']}")
        w = task.get("warning")
        if w:
            parts.append(
                f"{w.get('level_label') or w.get('level')}预警 · {w.get('model_label') or w.get('model')}"
            )
            reasons = [
                r.get("detail") or r.get("label")
                for r in w.get("reasons") or []
                if isinstance(r, dict)
            ]
            reasons = [r for r in reasons if r]
            if reasons:
                parts.append("原因：" + "；".join(reasons[:3]))
        return " · ".join(p for p in parts if p)

    def task_status(self, task: dict[str, Any]) -> str:
        entry = self.store.outbox_for_task(task["id"])
        if entry is not None:
            return OUTBOX_LABELS[entry.state]
        if self.store.draft(task["id"]) is not None:
            return "草稿"
        return {
            "assigned": "待检查",
            "in_progress": "检查中",
            "submitted": "已提交",
            "done": "已办结",
            "cancelled": "已取消",
        }.get(task["state"], task["state"])

    def task_views(self, today: dt.date | None = None) -> dict[str, list[TaskView]]:
        """Tasks by tab: ``today`` (open, not overdue), ``overdue``, ``done``."""
        today = today or dt.date.today()
        out: dict[str, list[TaskView]] = {"today": [], "overdue": [], "done": []}
        for t in self.store.tasks():
            entry = self.store.outbox_for_task(t["id"])
            local_done = entry is not None and entry.state != "rejected"
            if t["state"] not in OPEN_STATES or local_done:
                tab = "done"
            elif t.get("due_on") and dt.date.fromisoformat(t["due_on"]) < today:
                tab = "overdue"
            else:
                tab = "today"
            e = t.get("entity") or {}
            out[tab].append(
                TaskView(
                    id=t["id"],
                    tab=tab,
                    entity_name=e.get("name", ""),
                    uscc=e.get("uscc", ""),
                    address=e.get("address") or "",
                    credit_grade=GRADE_LABELS.get(e.get("credit_grade") or "", "未评级"),
                    due_on=t.get("due_on") or "",
                    status=self.task_status(t),
                    why=self.why_drawn(t),
                    task=t,
                )
            )
        for views in out.values():  # warnings first (they carry a deadline), then by due date
            views.sort(key=lambda v: (v.task.get("warning") is None, v.due_on, v.id))
        return out

    def entity_profile(self, uscc: str) -> dict[str, Any] | None:
        """Return the cached profile; fetched (and cached) when online and missing."""
        profile = self.store.entity(uscc)
        if profile is None:
            try:
                profile = self.client.entity(uscc)
            except ApiError:
                return None
            self.store.save_entity(profile)
        return profile

    # -- forms and drafts -------------------------------------------------------------
    def form_for_task(
        self, task_id: int
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Return (task, form, items) where items = form items + the task's check-item questions."""
        task = self.store.task(task_id)
        if task is None:
            raise KeyError(f"任务 {task_id} 不在本机")
        form = self.store.form(task["form_code"])
        if form is None:
            try:
                form = self.client.form(task["form_code"])
            except ApiError as exc:
                raise KeyError(
                    f"本机没有检查表 {task['form_code']}，请联网同步 ({exc.message})"
                ) from None
            self.store.save_form(form)
        return task, form, formengine.items_for_task(form, task)

    def open_draft(self, task_id: int) -> Draft:
        """The task's draft, on the form version the device holds.

        A draft begun on an earlier version (the form was refreshed since, or a submission
        refused as ``form_outdated`` was reopened) moves to the held version: answers to
        items that kept their id and type stay, the others are dropped for the inspector to
        answer again (a 是/否 answer cannot be read as 符合/不符合).
        """
        _, form, items = self.form_for_task(task_id)
        draft = self.store.open_draft(task_id, form["code"], str(form["version"]))
        if draft.form_version != str(form["version"]):
            by_id = {i["id"]: i for i in items}
            kept = {
                k: v
                for k, v in draft.answers.items()
                if k in formengine.CONCLUSION_IDS
                or (k in by_id and formengine.answer_fits(by_id[k], v))
            }
            draft = self.store.rebase_draft(task_id, str(form["version"]), kept)
        return draft

    def answer(self, task_id: int, item_id: str, raw: Any) -> str | None:
        """Save one answer now; return the message the server would give for it, if any."""
        _, _, items = self.form_for_task(task_id)
        if item_id in formengine.CONCLUSION_IDS:
            draft = self.store.save_answer(task_id, item_id, raw)
            return self.conclusion(task_id, draft.answers).errors.get(item_id)
        item = next(i for i in items if i["id"] == item_id)
        draft = self.store.save_answer(task_id, item_id, formengine.coerce(item, raw))
        return formengine.item_error(item, draft.answers)

    def conclusion(
        self, task_id: int, answers: dict[str, Any] | None = None
    ) -> formengine.Conclusion:
        """The draft's 检查结论 checked against its answers; it must be chosen, not derived."""
        _, _, items = self.form_for_task(task_id)
        if answers is None:
            answers = self.open_draft(task_id).answers
        out = formengine.conclude(
            items, answers, answers.get("result_category"), answers.get("follow_up")
        )
        if not answers.get("result_category"):
            out.errors.setdefault("result_category", "请选择检查结论（向社会公示的结果）")
        if not answers.get("follow_up"):
            out.errors.setdefault("follow_up", "请选择后续处置")
        return out

    def attach(
        self,
        task_id: int,
        item_id: str,
        kind: str,
        source: str | Path | bytes,
        filename: str | None = None,
    ) -> str:
        """Store a photo or signature for an item; the answer becomes its checksum."""
        draft = self.open_draft(task_id)
        att = self.store.add_attachment(draft.instance_id, item_id, kind, source, filename)
        if kind == "photo":
            current = draft.answers.get(item_id) or []
            value: Any = list(dict.fromkeys([*current, att.checksum]))
        else:
            value = att.checksum
        self.store.save_answer(task_id, item_id, value)
        return att.checksum

    def build_submission(
        self, task_id: int, *, completed_at: str | None = None
    ) -> tuple[dict[str, Any], formengine.FormCheck]:
        """Build the body to POST, and the engine's verdict on it (errors block finalisation)."""
        task, form, items = self.form_for_task(task_id)
        draft = self.open_draft(task_id)
        answers = formengine.clean_answers(items, draft.answers)
        conclusion = self.conclusion(task_id, {**answers, **{
            k: draft.answers[k] for k in formengine.CONCLUSION_IDS if k in draft.answers}})
        used = {
            v
            for item in items
            if item["type"] in ("photo", "signature")
            for v in (
                [answers.get(item["id"])]
                if isinstance(answers.get(item["id"]), str)
                else answers.get(item["id"]) or []
            )
        }
        attachments = [
            _declaration(a) for a in self.store.attachments(draft.instance_id) if a.checksum in used
        ]
        body: dict[str, Any] = {
            "instance_id": draft.instance_id,
            "task_id": task["id"],
            "form_code": draft.form_code,
            "form_version": draft.form_version,
            "answers": answers,
            "result_category": draft.answers.get("result_category"),
            "follow_up": draft.answers.get("follow_up"),
            "started_at": draft.started_at,
            "completed_at": completed_at or now_iso(),
            "attachments": attachments,
            "device_id": self.store.device_id(),
        }
        location = next(
            (answers[i["id"]] for i in items if i["type"] == "location" and i["id"] in answers),
            None,
        )
        if location:
            body["location"] = location
        if draft.deprecated_id:
            body["deprecated_id"] = draft.deprecated_id
        check = formengine.check_answers(items, answers, attachments)
        check.errors.update(conclusion.errors)
        check.problem_found = conclusion.problem_found
        return body, check

    def finalize(self, task_id: int) -> tuple[OutboxEntry | None, formengine.FormCheck]:
        """Validate the draft and, if it passes, move it to the outbox."""
        body, check = self.build_submission(task_id)
        if not check.ok:
            return None, check
        return self.store.finalize(task_id, body), check

    def legal_refs(self, item: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Return (display text, ref) for each legal reference of an item."""
        out = []
        for ref in item.get("legal_refs") or []:
            art = self.laws.article(ref["law"], ref["article"])
            out.append((format_ref(ref, art["label"] if art else None), ref))
        if not out and item.get("legal_basis"):
            out.append((str(item["legal_basis"]), {}))
        return out

    def article_text(self, law_id: str, number: int) -> tuple[str, str]:
        """Return (title, full text) of an article, from the library or, if missing, the server."""
        art = self.laws.article(law_id, number)
        if art is None:
            try:
                art = self.client.article(law_id, number)
            except ApiError:
                return f"《{law_id}》第{number}条", "本机法规库中没有该条文，请联网同步后查看。"
        return f"《{self.laws.title(law_id)}》{art.get('label') or ''}", art["text"]

    # -- sync -------------------------------------------------------------------------
    def sync(self, *, force: bool = True) -> str:
        report, counts = self.sync_engine.sync(force=force)
        self.laws.invalidate()
        msg = report.message
        if counts:
            msg += f"；任务 {counts['tasks']} 条，法规更新 {counts['laws']} 部"
        if report.errors:
            msg += f"；{report.errors[-1]}"
        return msg

    def resend(self, instance_id: str) -> None:
        """Try a blocked entry's refused attachments again (e.g. damaged on the way)."""
        self.sync_engine.resend(instance_id)

    def retake(
        self, instance_id: str, checksum: str, source: str | Path | bytes, filename: str | None = None
    ) -> OutboxEntry:
        """Replace a refused attachment of a finished submission with a new photo.

        The answers stay as they were; the submission goes again under a new instance id
        naming the old one as ``deprecated_id``, so the server's pending copy is replaced
        and the attachments it already holds carry over.
        """
        entry = self.store.outbox_entry(instance_id)
        if entry is None or entry.state in ("sent", "rejected"):
            raise ValueError("该提交不能更换附件 (only a submission still being sent can take a new photo)")
        old = next((a for a in self.store.attachments(instance_id) if a.checksum == checksum), None)
        if old is None:
            raise KeyError(checksum)
        body = json.loads(json.dumps(entry.body))
        body["instance_id"] = str(uuid.uuid4())
        body["deprecated_id"] = instance_id
        new = self.store.add_attachment(body["instance_id"], old.item_id, old.kind, source, filename)

        def swap(value: Any) -> Any:
            if isinstance(value, list):
                return list(dict.fromkeys(new.checksum if v == checksum else v for v in value))
            return new.checksum if value == checksum else value

        body["answers"] = {k: swap(v) for k, v in body["answers"].items()}
        body["attachments"] = [
            a for a in body.get("attachments") or [] if a["checksum"] not in (checksum, new.checksum)
        ] + [_declaration(new)]
        return self.store.supersede(instance_id, body, dropped=checksum)

    def shrink(self, instance_id: str, checksum: str) -> OutboxEntry:
        """Send a refused photo again downscaled: for photos queued by an earlier version of
        the app, which kept the camera's file as it was (often over the server's limit).
        """
        old = next((a for a in self.store.attachments(instance_id) if a.checksum == checksum), None)
        if old is None or old.kind != "photo" or old.original_checksum is not None:
            raise ValueError("这张照片已压缩过，请点“重新拍照”更换")
        return self.retake(instance_id, checksum, old.path, old.filename)

    def outbox_rows(self) -> list[dict[str, Any]]:
        rows = []
        for e in self.store.outbox():
            task = self.store.task(e.task_id) or {}
            atts = self.store.attachments(e.instance_id)
            rows.append(
                {
                    "instance_id": e.instance_id,
                    "task_id": e.task_id,
                    "state": e.state,
                    "state_label": OUTBOX_LABELS[e.state],
                    "entity": (task.get("entity") or {}).get("name", f"任务 {e.task_id}"),
                    "attempts": e.attempts,
                    "error": e.last_error,
                    "items": e.error_items,
                    "created_at": e.created_at,
                    "sent_at": e.sent_at,
                    "attachments": [
                        {
                            "checksum": a.checksum,
                            "filename": a.filename,
                            "kind": a.kind,
                            "size_label": size_label(a.size),
                            "uploaded": a.uploaded,
                            "error": a.error,
                            # kept as the camera wrote it (queued by an earlier app version)
                            "can_shrink": a.kind == "photo" and a.original_checksum is None,
                        }
                        for a in atts
                    ],
                }
            )
        return rows


def size_label(size: int | None) -> str:
    """A file size as the inspector reads it (1.8 MB, 350 KB)."""
    if size is None:
        return ""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _declaration(a: Attachment) -> dict[str, Any]:
    """An attachment as the submission body declares it."""
    out: dict[str, Any] = {
        "item_id": a.item_id,
        "kind": a.kind,
        "filename": a.filename,
        "checksum": a.checksum,
        "size": a.size,
    }
    if a.original_checksum:
        out["original_checksum"] = a.original_checksum
        out["original_size"] = a.original_size
    return out
