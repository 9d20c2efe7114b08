"""Alembic's "replaceable objects" recipe for the SQL functions behind our triggers.

A trigger function is a ``ReplaceableObject``: its name with the argument list, and the rest
of its definition. A migration that changes one declares the new version as a module-level
constant and replaces the version an earlier migration declared, by ``"<revision>.<NAME>"``:

    MESSAGE_EVENT = ReplaceableObject("messenger_message_event()", '''
        RETURNS trigger LANGUAGE plpgsql AS $$ ... $$''')

    def upgrade():
        op.replace_function(MESSAGE_EVENT, replaces="0010.MESSAGE_EVENT")

    def downgrade():
        op.replace_function(MESSAGE_EVENT, replace_with="0010.MESSAGE_EVENT")

``replace_function`` uses ``CREATE OR REPLACE``, so the triggers that call the function keep
pointing at it (a drop would fail while they exist); ``create_function`` / ``drop_function``
add or remove one. Migrations import this module as ``replaceable``: ``alembic.ini`` puts
this directory on ``sys.path`` (``prepend_sys_path``). ``functions_in`` reads the functions
out of an older migration's SQL text, for migrations written before this module existed.
Details and the event-log helper ``messenger_emit``: docs/event-log.md.
"""
from __future__ import annotations

import abc
import re
from typing import Any

from alembic.operations import MigrateOperation
from alembic.operations import Operations


class ReplaceableObject:
    """A named SQL object (``name`` with its argument list) and the rest of its definition."""

    def __init__(self, name: str, sqltext: str) -> None:
        self.name = name
        self.sqltext = sqltext.strip()

    def __repr__(self) -> str:
        return f"ReplaceableObject({self.name!r})"


_FUNCTION = re.compile(r"CREATE (?:OR REPLACE )?FUNCTION (\w+\([^)]*\)) (.*?END \$\$);", re.S)


def functions_in(sql: str) -> dict[str, ReplaceableObject]:
    """Every ``CREATE [OR REPLACE] FUNCTION … END $$;`` in a block of SQL, by function name."""
    found = {}
    for name, body in _FUNCTION.findall(sql):
        found[name.split("(")[0]] = ReplaceableObject(name, body)
    return found


class ReversibleOp(MigrateOperation, abc.ABC):
    """An operation on one ``ReplaceableObject`` that knows its reverse."""

    def __init__(self, target: ReplaceableObject, previous: ReplaceableObject | None = None) -> None:
        self.target = target
        self.previous = previous

    @classmethod
    def invoke_for_target(cls, operations: Operations, target: ReplaceableObject) -> Any:
        return operations.invoke(cls(target))

    @classmethod
    def from_revision(cls, operations: Operations, ident: str) -> ReplaceableObject:
        """The object a migration declared, by ``"<revision>.<CONSTANT>"``."""
        revision, name = ident.split(".")
        script = operations.get_context().script
        if script is None:
            raise RuntimeError("replaceable objects need the migration scripts (not offline mode)")
        module = script.get_revision(revision).module
        obj = getattr(module, name)
        if not isinstance(obj, ReplaceableObject):
            raise TypeError(f"{ident} is not a ReplaceableObject")
        return obj

    @abc.abstractmethod
    def reverse(self) -> ReversibleOp:
        """The operation that undoes this one (each concrete operation says which)."""


@Operations.register_operation("create_function", "invoke_for_target")
class CreateFunctionOp(ReversibleOp):
    def reverse(self) -> ReversibleOp:
        return DropFunctionOp(self.target)


@Operations.register_operation("drop_function", "invoke_for_target")
class DropFunctionOp(ReversibleOp):
    def reverse(self) -> ReversibleOp:
        return CreateFunctionOp(self.target)


@Operations.register_operation("replace_function", "replace")
class ReplaceFunctionOp(ReversibleOp):
    """``CREATE OR REPLACE`` one version of a function with another (same name and arguments)."""

    @classmethod
    def replace(cls, operations: Operations, target: ReplaceableObject, replaces: str | None = None,
                replace_with: str | None = None) -> Any:
        if (replaces is None) == (replace_with is None):
            raise ValueError("give exactly one of replaces= (upgrade) or replace_with= (downgrade)")
        if replaces is not None:
            return operations.invoke(cls(target, cls.from_revision(operations, replaces)))
        assert replace_with is not None
        return operations.invoke(cls(cls.from_revision(operations, replace_with), target))

    def reverse(self) -> ReversibleOp:
        if self.previous is None:
            raise ValueError(f"no previous version of {self.target.name}")
        return ReplaceFunctionOp(self.previous, self.target)


@Operations.implementation_for(CreateFunctionOp)
def create_function(operations: Operations, operation: CreateFunctionOp) -> None:
    operations.execute(f"CREATE FUNCTION {operation.target.name} {operation.target.sqltext}")


@Operations.implementation_for(DropFunctionOp)
def drop_function(operations: Operations, operation: DropFunctionOp) -> None:
    operations.execute(f"DROP FUNCTION {operation.target.name}")


@Operations.implementation_for(ReplaceFunctionOp)
def replace_function(operations: Operations, operation: ReplaceFunctionOp) -> None:
    target, previous = operation.target, operation.previous
    if previous is not None and previous.name != target.name:
        raise ValueError(f"{previous.name} cannot be replaced by {target.name}: names differ")
    operations.execute(f"CREATE OR REPLACE FUNCTION {target.name} {target.sqltext}")
