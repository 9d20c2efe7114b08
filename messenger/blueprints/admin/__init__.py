"""Admin blueprint: server-rendered settings pages (Flask-WTF forms)."""
from flask import Blueprint

bp = Blueprint("admin", __name__)

from messenger.blueprints.admin import views  # noqa: E402,F401
