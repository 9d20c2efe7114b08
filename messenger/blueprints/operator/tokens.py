"""The operator's own API tokens (``/app/tokens``): create (shown once), list, revoke."""
from __future__ import annotations

from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from messenger.blueprints.admin.helpers import field_error
from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.errors import ValidationError
from messenger.security.ratelimit import client_ip
from messenger.services import api_tokens


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=api_tokens.MAX_NAME)])


class RevokeForm(FlaskForm):
    """CSRF only."""


def page(form: TokenForm, token: str | None = None, status: int = 200) -> ResponseReturnValue:
    """The tokens page; ``token`` is a new token, shown this once (never cached)."""
    html = render_template("operator/account_tokens.html", form=form, revoke=RevokeForm(), token=token,
                           tokens=api_tokens.list_tokens(g.operator.id))
    return html, status, {"Cache-Control": "no-store"}


@bp.route("/app/tokens", methods=["GET", "POST"])
@login_required
def api_tokens_page() -> ResponseReturnValue:
    form = TokenForm()
    if form.validate_on_submit():
        try:
            _, token = api_tokens.create_token(g.operator, form.name.data, ip=client_ip())
        except ValidationError as exc:
            field_error(form, exc)
        else:
            return page(TokenForm(formdata=None), token, 201)
    return page(form, status=422 if form.is_submitted() else 200)


@bp.route("/app/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@login_required
def api_token_revoke(token_id: int) -> ResponseReturnValue:
    if RevokeForm().validate_on_submit():
        api_tokens.revoke_token(g.operator, token_id, ip=client_ip())
    return redirect(url_for("operator.api_tokens_page"))
