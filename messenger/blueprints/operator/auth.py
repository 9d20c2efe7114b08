"""Operator sign-in: session cookie, CSRF-protected form, session renewed on login.

``g.operator`` is loaded once per request. The cookie names a server-side session row:
signing out revokes it (a copied cookie dies too), and a session whose
``session_version`` is older than the user's (password changed, deactivated, "sign out
everywhere") is dead (docs/security.md, case 21). Wrong passwords are slowed per account
and address by ``services/login_guard.py``; ``next`` goes through ``safe_next``.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import current_app
from flask import flash
from flask import g
from flask import make_response
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

from messenger.blueprints.operator.blueprint import bp
from messenger.errors import Forbidden
from messenger.errors import Unauthorized
from messenger.extensions import limiter
from messenger.models import User
from messenger.security.bearer import api_bearer_token
from messenger.security.ratelimit import client_ip
from messenger.security.redirects import safe_next
from messenger.services import api_tokens
from messenger.services import login_guard
from messenger.services import users as users_service

F = TypeVar("F", bound=Callable[..., Any])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


@bp.before_app_request
def load_operator() -> None:
    """Attach the signed-in operator (or None) to ``g``: by API token on ``/api/``, else by session."""
    g.operator = None
    token = api_bearer_token()
    if token is not None:
        # A token request never falls back to the cookie (it skipped the CSRF check).
        found = api_tokens.authenticate(token, ip=client_ip())
        if found is None:
            raise Unauthorized("Invalid or revoked API token.", code="invalid_token")
        g.operator, g.api_token_id = found
        return
    uid = session.get("uid")
    if uid is None:
        return
    user = users_service.get_session_user(uid, session.get("sv"), session.get("sid"))
    if user is None:
        session.clear()
        return
    g.operator = user
    g.operator_session_id = session["sid"]


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
    return safe_next(target) or url_for("operator.app_page")


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _wait_page(form: LoginForm, wait: login_guard.Wait) -> ResponseReturnValue:
    flash(f"Too many attempts. Try again in {wait.seconds} seconds.")
    response = make_response(render_template("operator/login.html", form=form), 429)
    response.headers["Retry-After"] = str(wait.seconds)
    return response


def _signed_in(user: User) -> ResponseReturnValue:
    # A fresh session on login: no fixation (case 22), and a fresh CSRF token with it.
    session.clear()
    g.pop("csrf_token", None)
    session["uid"] = user.id
    session["sv"] = user.session_version
    session["sid"] = users_service.open_session(user, ip=client_ip(), user_agent=request.headers.get("User-Agent"))
    session.permanent = True
    response = redirect(_safe_next(request.args.get("next")))
    response.set_cookie(login_guard.DEVICE_COOKIE, login_guard.device_token(user.id),
                        max_age=login_guard.DEVICE_MAX_AGE_S, httponly=True, samesite="Lax", path="/login",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=client_ip)
def login() -> ResponseReturnValue:
    if g.get("operator") is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        email, ip = (form.email.data or "").strip().lower(), client_ip()
        owner = users_service.get_user_by_email(email)
        device = login_guard.device_user(request.cookies.get(login_guard.DEVICE_COOKIE))
        wait = login_guard.check(email, ip, known_device=owner is not None and device == owner.id)
        if wait is not None:
            login_guard.refused(email, ip, wait)
            return _wait_page(form, wait)
        user = users_service.authenticate(email, form.password.data or "")
        if user is not None:
            login_guard.succeeded(email, ip)
            return _signed_in(user)
        login_guard.failed(email, ip)
        flash("Wrong email or password.")
        return render_template("operator/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("operator/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """Sign this browser out: the server-side session ends, so a copy of the cookie is dead too."""
    if g.get("operator") is not None:
        users_service.end_session(g.operator.id, g.operator_session_id, ip=client_ip())
    session.clear()
    return redirect(url_for("operator.login"))


@bp.route("/logout/everywhere", methods=["POST"])
@login_required
def logout_everywhere() -> ResponseReturnValue:
    """Sign out every browser of this operator; their open streams close within one heartbeat."""
    users_service.end_all_sessions(g.operator.id, g.operator.id, ip=client_ip())
    session.clear()
    flash("You are signed out on every device.")
    return redirect(url_for("operator.login"))
