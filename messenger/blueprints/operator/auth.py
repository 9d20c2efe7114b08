"""Operator sign-in: session cookie, CSRF-protected form, session renewed on login.

``g.operator`` is loaded once per request; a session whose ``session_version`` is older
than the user's (password changed, deactivated) is dead (CASES 21).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from messenger.blueprints.operator import bp
from messenger.errors import Forbidden
from messenger.errors import Unauthorized
from messenger.extensions import limiter
from messenger.services import users as users_service

F = TypeVar("F", bound=Callable[..., Any])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


@bp.before_app_request
def load_operator() -> None:
    """Attach the signed-in operator (or None) to ``g``."""
    g.operator = None
    uid = session.get("uid")
    if uid is None:
        return
    user = users_service.get_session_user(uid, session.get("sv"))
    if user is None:
        session.clear()
        return
    g.operator = user


def login_required(view: F) -> F:
    """Pages: redirect to /login; API: 401 JSON."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("operator") is None:
            if request.path.startswith("/api/"):
                raise Unauthorized("Sign in first.")
            return redirect(url_for("operator.login", next=request.full_path if request.args else request.path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Like login_required, and the operator must be an admin."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.operator.role != "admin":
            raise Forbidden("Admins only.")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("operator.app_page")


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _login_key() -> str:
    # Per account as well as per IP (CASES 29): a botnet cannot spread guesses over IPs.
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"login:{email}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_key)
def login() -> ResponseReturnValue:
    if g.get("operator") is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = users_service.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            # A fresh session on login: no fixation (CASES 22).
            session.clear()
            session["uid"] = user.id
            session["sv"] = user.session_version
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.")
        return render_template("operator/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("operator/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("operator.login"))
