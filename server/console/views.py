"""Console pages (server-rendered, Chinese)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server.auth import services as auth_services
from server.auth.decorators import STAFF, current_user, public, roles_required
from server.errors import DomainError
from server.extensions import db

bp = Blueprint("console", __name__)


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("console.home")
    parsed = urlparse(target)
    if parsed.netloc or parsed.scheme or not target.startswith("/"):
        return url_for("console.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth_services.authenticate(
                db.session,
                form.username.data or "",
                form.password.data or "",
                remote_addr=request.remote_addr,
            )
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("console/login.html", form=form), exc.status
        session.clear()
        session["user_id"] = user.id
        session["sv"] = user.session_version
        session.permanent = False
        return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", form=form)


@bp.post("/logout")
@roles_required(*STAFF)
def logout() -> Any:
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@roles_required(*STAFF)
def home() -> Any:
    user = current_user()
    assert user is not None
    from server.console.dashboard import summary

    return render_template("console/home.html", user=user, summary=summary(db.session))
