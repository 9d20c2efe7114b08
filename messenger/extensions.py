"""Flask extensions, created unbound here and bound in ``create_app``."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import Babel
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql as pg

from messenger.security.bearer import CSRFProtectUnlessBearer
from messenger.security.ratelimit import client_ip

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(so.DeclarativeBase):
    """Declarative base: constraint names and the timestamp type used everywhere."""

    registry = so.registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: sa.DateTime(timezone=True),
            dict[str, Any]: pg.JSONB,
            list[Any]: pg.JSONB,
        },
    )


db = SQLAlchemy(model_class=Base)
# Models subclass ``Model``: at runtime Flask-SQLAlchemy's ``db.Model``, for type checkers the typed
# declarative base it is built on (``db.Model`` is a runtime attribute mypy cannot use as a base).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
csrf = CSRFProtectUnlessBearer()
babel = Babel()
limiter = Limiter(key_func=client_ip, default_limits=[], headers_enabled=True)
