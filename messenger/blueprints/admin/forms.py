"""Flask-WTF forms of the admin pages: field shapes and lengths only.

The rules (unique names, valid origins, time zones, overlapping hours, the last admin)
live in ``messenger/services``; ``helpers.run_form`` shows their errors next to the field.
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import FieldList
from wtforms import Form
from wtforms import FormField
from wtforms import IntegerField
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import NumberRange
from wtforms.validators import Optional


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (membership pickers)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form: object) -> None:
        # Unknown ids are refused by the service with a message next to the field.
        pass


class LabelForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    color = StringField(_l("Colour"), default="#1f6feb", validators=[DataRequired(), Length(max=16)])


class TeamForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    members = MultiCheckboxField(_l("Members"), coerce=int)


class CannedForm(FlaskForm):
    short_code = StringField(_l("Shortcut"), validators=[DataRequired(), Length(max=64)])
    content = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=5000)])


class ConfirmForm(FlaskForm):
    """A button-only form (delete, rotate, deactivate): CSRF and nothing else."""


class PrechatFieldForm(Form):
    """One row of the pre-chat form editor (no CSRF of its own: it lives inside InboxForm)."""

    label = StringField(_l("Label"), validators=[Optional(), Length(max=200)])
    name = StringField(_l("Key"), validators=[Optional(), Length(max=64)])
    type = SelectField(_l("Type"), choices=[("text", _l("Text")), ("email", _l("Email")), ("phone", _l("Phone")),
                                           ("textarea", _l("Long text")), ("select", _l("Choice")),
                                           ("checkbox", _l("Checkbox")), ("number", _l("Number"))])
    required = BooleanField(_l("Required"))
    options = StringField(_l("Options"), validators=[Optional(), Length(max=2000)])


DAY_LABELS = (("mon", _l("Monday")), ("tue", _l("Tuesday")), ("wed", _l("Wednesday")), ("thu", _l("Thursday")),
              ("fri", _l("Friday")), ("sat", _l("Saturday")), ("sun", _l("Sunday")))
PRECHAT_ROWS_SPARE = 2


def _minutes_field(label: Any) -> IntegerField:
    return IntegerField(label, validators=[Optional(), NumberRange(min=1, max=24 * 60)])


class InboxForm(FlaskForm):
    """Every inbox setting the widget and routing read (rules: services/inbox_settings.py)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    color = StringField(_l("Colour"), default="#1f6feb", validators=[DataRequired(), Length(max=16)])
    locale = SelectField(_l("Widget language"), choices=[("", _l("Visitor's browser")), ("en", "English"),
                                                         ("ru", "Русский")], default="")
    greeting = TextAreaField(_l("Greeting"), validators=[Length(max=2000)])
    away_message = TextAreaField(_l("Away message"), validators=[Length(max=2000)])
    allowed_origins = TextAreaField(_l("Allowed websites (origins)"), validators=[Length(max=5000)])
    timezone = StringField(_l("Time zone"), default="UTC", validators=[DataRequired(), Length(max=64)])
    business_hours_enabled = BooleanField(_l("Use business hours"))
    hours_mon = StringField(_l("Monday"), validators=[Length(max=200)])
    hours_tue = StringField(_l("Tuesday"), validators=[Length(max=200)])
    hours_wed = StringField(_l("Wednesday"), validators=[Length(max=200)])
    hours_thu = StringField(_l("Thursday"), validators=[Length(max=200)])
    hours_fri = StringField(_l("Friday"), validators=[Length(max=200)])
    hours_sat = StringField(_l("Saturday"), validators=[Length(max=200)])
    hours_sun = StringField(_l("Sunday"), validators=[Length(max=200)])
    prechat_enabled = BooleanField(_l("Ask these questions before the chat starts"))
    prechat_fields = FieldList(FormField(PrechatFieldForm), min_entries=PRECHAT_ROWS_SPARE, max_entries=30)
    proactive_enabled = BooleanField(_l("Greet visitors proactively"))
    proactive_message = TextAreaField(_l("Proactive greeting"), validators=[Length(max=2000)])
    proactive_url_pattern = StringField(_l("On pages matching"), default="*", validators=[Length(max=500)])
    proactive_delay_s = IntegerField(_l("After (seconds on the page)"), default=10,
                                     validators=[Optional(), NumberRange(min=0, max=3600)])
    auto_assignment = BooleanField(_l("Assign new conversations automatically"), default=True)
    assignment_policy = SelectField(_l("Policy"), choices=[("round_robin", _l("Round-robin")),
                                                          ("least_busy", _l("Least busy"))])
    prefer_previous_operator = BooleanField(_l("Prefer the visitor's previous operator when free"))
    capacity = IntegerField(_l("Inbox capacity per operator"), validators=[Optional(), NumberRange(min=0, max=1000)])
    first_reply_timeout_min = _minutes_field(_l("Escalate when unanswered for (minutes)"))
    escalation_mode = SelectField(_l("Escalation"), choices=[("reassign", _l("Give it to the next free operator")),
                                                             ("team", _l("Give it to a team")),
                                                             ("notify", _l("Only note it in the conversation"))])
    escalation_team_id = SelectField(_l("Escalation team"), choices=[], validate_choice=False)
    requeue_on_offline = BooleanField(_l("Back to the queue when the operator goes offline"), default=True)
    queue_timeout_min = _minutes_field(_l("Offer the offline form after waiting (minutes)"))
    hide_when_offline = BooleanField(_l("Hide the widget when nobody can answer"))
    reopen_window_h = IntegerField(_l("A visitor's new message reopens a resolved conversation within (hours)"),
                                   default=24, validators=[InputRequired(), NumberRange(min=0, max=24 * 90)])
    reply_after_resolve = BooleanField(_l("Visitors may write after resolution"), default=True)
    csat_enabled = BooleanField(_l("Ask for a rating (CSAT) after resolution"), default=True)
    attachment_types = MultiCheckboxField(_l("Visitors may send"), choices=[
        ("image", _l("Images")), ("pdf", "PDF"), ("text", _l("Text files")), ("audio", _l("Audio")),
        ("video", _l("Video")), ("document", _l("Office documents")), ("archive", _l("Zip archives"))])
    max_upload_mb = IntegerField(_l("Largest file (MB)"), validators=[Optional(), NumberRange(min=1, max=1024)])
    enforce_identity = BooleanField(_l("Require identity verification (HMAC) for identified visitors"))
    members = MultiCheckboxField(_l("Operators who answer this inbox"), coerce=int)

    def settings(self) -> dict[str, Any]:
        """The submitted values as ``services.inbox_settings.clean_settings`` reads them."""
        data = {name: field.data for name, field in self._fields.items() if name not in ("csrf_token",)}
        data["prechat_fields"] = [row for row in data["prechat_fields"] if isinstance(row, dict)]
        return data


class OperatorForm(FlaskForm):
    """Invite (with email) or edit an operator."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])  # removed on edit
    role = SelectField(_l("Role"), choices=[("agent", _l("Agent")), ("admin", _l("Admin"))], default="agent")
    capacity = IntegerField(_l("Capacity (open conversations at once)"), default=10,
                            validators=[InputRequired(), NumberRange(min=0, max=1000)])
    inboxes = MultiCheckboxField(_l("Inboxes"), coerce=int)
    teams = MultiCheckboxField(_l("Teams"), coerce=int)


class AuditFilterForm(FlaskForm):
    """The audit log's filters (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False, default="")
    actor = SelectField(_l("Who"), choices=[], validate_choice=False, default="")
    target_type = StringField(_l("Target"), validators=[Optional(), Length(max=32)])
    ip = StringField(_l("IP address"), validators=[Optional(), Length(max=64)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])


class IpBlockForm(FlaskForm):
    network = StringField(_l("IP address or range"), validators=[DataRequired(), Length(max=64)])
    days = SelectField(_l("For"), choices=[("1", _l("1 day")), ("7", _l("7 days")), ("30", _l("30 days")),
                                           ("", _l("good (no expiry)"))], default="7")
    reason = StringField(_l("Reason"), validators=[Length(max=255)])


class ReportFilterForm(FlaskForm):
    """The reports page's scope (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
    tz = StringField(_l("Time zone"), validators=[Optional(), Length(max=64)], default="UTC")
    inbox = SelectField(_l("Inbox"), choices=[], validate_choice=False, default="")
    operator = SelectField(_l("Operator"), choices=[], validate_choice=False, default="")
    team = SelectField(_l("Team"), choices=[], validate_choice=False, default="")
