"""Flask-WTF forms of the admin pages: field shapes and lengths only.

The rules (unique names, valid origins, time zones, overlapping hours, the last admin)
live in ``messenger/services``; ``helpers.run_form`` shows their errors next to the field.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.validators import DataRequired
from wtforms.validators import Length


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
