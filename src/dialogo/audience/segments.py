"""The targeting expression language, compiled to a SQLAlchemy condition on contacts.

Examples::

    age 25-34 AND region IN (Lazio, Campania) AND interest:running AND engaged_last_30d
    sex = female OR (country = IT AND NOT interest:fashion)
    age 65+ AND place != Milano

Conditions: ``age LO-HI`` / ``age LO+`` (the contact's age band lies inside), ``FIELD = v``,
``FIELD != v``, ``FIELD IN (v, …)`` for ``sex``, ``place``, ``region``, ``country``,
``age_band``, ``source`` (case-insensitive; values bare or in double quotes),
``interest:NAME``, ``engaged_last_Nd`` (a message from the contact, or a recorded
engagement, in the last N days), combined with ``AND``, ``OR``, ``NOT`` and parentheses.
Errors carry the 1-based column of the problem.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select

from dialogo.audience.models import ContactInterest, ContactProfile
from dialogo.core.errors import InvalidInput
from dialogo.inbox.models import Contact, Message

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" or_expr ")"
     | condition
?condition: _AGE AGE_RANGE                      -> age
          | FIELD "=" value                     -> equals
          | FIELD "!=" value                    -> not_equals
          | FIELD _IN "(" value ("," value)* ")" -> within
          | INTEREST                            -> interest
          | ENGAGED                             -> engaged
?value: BARE | STRING

_OR.2: /OR\b/i
_AND.2: /AND\b/i
_NOT.2: /NOT\b/i
_IN.2: /IN\b/i
_AGE.2: /age(?![\w:])/i
AGE_RANGE: /\d{1,3}\s*-\s*\d{1,3}|\d{1,3}\+/
FIELD.2: /(sex|place|region|country|age_band|source)\b/i
INTEREST.3: /interest:[\w\-]+/i
ENGAGED.3: /engaged_last_\d{1,4}d\b/i
STRING: /"[^"]*"/
BARE: /[^\s,()"=!]+/

%ignore /\s+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)

_COLUMNS = {
    "sex": ContactProfile.sex,
    "place": ContactProfile.place,
    "region": ContactProfile.region,
    "country": ContactProfile.country,
    "age_band": ContactProfile.age_band,
    "source": ContactProfile.source,
}


class SegmentSyntaxError(InvalidInput):
    code = "segment_syntax"

    def __init__(self, message: str, *, column: int, expression: str) -> None:
        super().__init__(f"column {column}: {message}", column=column)
        self.column = column
        self.expression = expression


@dataclasses.dataclass(frozen=True)
class Compiled:
    """A parsed expression: ``condition(now)`` is the SQL condition on ``Contact``."""

    expression: str
    tree: Tree[Token] | Token

    def condition(self, now: dt.datetime) -> ColumnElement[bool]:
        return _ToSql(now).transform(self.tree) if isinstance(self.tree, Tree) else false()


def _value(token: Token) -> str:
    text = str(token)
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    return text.strip()


class _ToSql(Transformer[Token, Any]):
    def __init__(self, now: dt.datetime) -> None:
        super().__init__()
        self.now = now

    def or_expr(self, items: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        return or_(*items)

    def and_expr(self, items: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        return and_(*items)

    def negation(self, items: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        return not_(items[0])

    def age(self, items: list[Token]) -> ColumnElement[bool]:
        text = str(items[0]).replace(" ", "")
        if text.endswith("+"):
            return ContactProfile.age_min >= int(text[:-1])
        low, high = (int(part) for part in text.split("-"))
        return and_(ContactProfile.age_min >= low, ContactProfile.age_max <= high)

    def _field(self, token: Token) -> Any:
        return func.lower(_COLUMNS[str(token).lower()])

    def equals(self, items: list[Token]) -> ColumnElement[bool]:
        return self._field(items[0]) == _value(items[1]).lower()  # type: ignore[no-any-return]

    def not_equals(self, items: list[Token]) -> ColumnElement[bool]:
        column = self._field(items[0])
        return or_(column.is_(None), column != _value(items[1]).lower())

    def within(self, items: list[Token]) -> ColumnElement[bool]:
        return self._field(items[0]).in_([_value(v).lower() for v in items[1:]])  # type: ignore[no-any-return]

    def interest(self, items: list[Token]) -> ColumnElement[bool]:
        name = str(items[0]).split(":", 1)[1].lower()
        return exists(
            select(ContactInterest.contact_id).where(
                ContactInterest.contact_id == Contact.id, ContactInterest.interest == name
            )
        )

    def engaged(self, items: list[Token]) -> ColumnElement[bool]:
        days = int(str(items[0]).lower().removeprefix("engaged_last_").removesuffix("d"))
        since = self.now - dt.timedelta(days=days)
        return or_(
            ContactProfile.last_engaged_at >= since,
            exists(
                select(Message.id).where(
                    Message.contact_id == Contact.id,
                    Message.direction == "inbound",
                    Message.created_at >= since,
                )
            ),
        )


def _check(tree: Tree[Token] | Token, expression: str) -> None:
    """Semantic checks the grammar cannot express (age ranges in order)."""
    if not isinstance(tree, Tree):
        return
    for node in tree.iter_subtrees():
        if node.data == "age":
            token = node.children[0]
            assert isinstance(token, Token)
            text = str(token).replace(" ", "")
            if "-" in text:
                low, high = (int(part) for part in text.split("-"))
                if low > high:
                    raise SegmentSyntaxError(
                        f"age range {text} is reversed",
                        column=token.column or 1,
                        expression=expression,
                    )


def parse(expression: str) -> Compiled:
    """Parse a targeting expression; :class:`SegmentSyntaxError` says where it is wrong."""
    if not expression.strip():
        raise SegmentSyntaxError("the expression is empty", column=1, expression=expression)
    if len(expression) > 4000:
        raise SegmentSyntaxError("the expression is too long", column=4001, expression=expression)
    try:
        tree = _PARSER.parse(expression)
    except UnexpectedCharacters as error:
        raise SegmentSyntaxError(
            f"unexpected {expression[error.pos_in_stream or 0]!r}",
            column=error.column,
            expression=expression,
        ) from None
    except UnexpectedEOF:
        raise SegmentSyntaxError(
            "the expression ends too early", column=len(expression) + 1, expression=expression
        ) from None
    except UnexpectedInput as error:
        token = getattr(error, "token", None)
        shown = str(token) if token is not None and str(token) else "end of expression"
        column = error.column if isinstance(error.column, int) and error.column > 0 else 1
        if token is not None and token.type == "$END":
            shown, column = "end of expression", len(expression) + 1
        raise SegmentSyntaxError(
            f"unexpected {shown!r}", column=column, expression=expression
        ) from None
    except VisitError as error:  # pragma: no cover - parse() runs no transformer
        raise SegmentSyntaxError(str(error), column=1, expression=expression) from None
    _check(tree, expression)
    return Compiled(expression, tree)
