"""The page behind a one-time account link: an invited operator (or a reset) sets a password, then signs in."""
from __future__ import annotations

from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length

from messenger.blueprints.operator.blueprint import bp
from messenger.errors import DomainError
from messenger.extensions import limiter
from messenger.security.ratelimit import client_ip
from messenger.services import accounts


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=8, max=200, message=_l("Use at least 8 characters."))])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


@bp.route("/account/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def account_link(token: str) -> ResponseReturnValue:
    """Show the form for a valid link; a used, replaced or expired link is refused with 410."""
    try:
        link, user = accounts.get_link(token)
    except DomainError as exc:
        return render_template("operator/account.html", state="invalid", message=_(exc.message)), exc.status
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.accept_link(token, form.password.data or "", ip=client_ip())
        except DomainError as exc:
            if exc.status != 422:
                return render_template("operator/account.html", state="invalid", message=_(exc.message)), exc.status
            form.password.errors = [_(exc.message)]
        else:
            return render_template("operator/account.html", state="done", user=user)
    status = 422 if request.method == "POST" else 200
    return render_template("operator/account.html", state="form", form=form, user=user, link=link), status
