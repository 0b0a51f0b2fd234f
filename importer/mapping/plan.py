"""Mapping rows to CreateCustom payloads.

``Plan`` is a mapping checked against a file's header: every mapped column exists, every
constant, default and map value converts. ``Plan.map_chunk`` converts a chunk of rows a column at
a time and collects, per row, what could not be converted; ``Plan.payload`` builds the JSON body
of one mapped row exactly as LeadSquared's CreateCustom takes it (``payload.build_payload``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from importer.errors import ConfigError, Problem
from importer.mapping.config import TEMPLATE_PART, Mapping, Rule
from importer.mapping.convert import CONVERTERS, Conversion
from importer.mapping.payload import build_payload
from importer.readers.source import BadRow, Chunk

if TYPE_CHECKING:
    from importer.account.preflight import AccountFit

INVALID_VALUE = "InvalidValue"
MISSING_VALUE = "MissingValue"
BAD_ROW = "BadRow"


@dataclass(frozen=True)
class RowProblem:
    error_type: str
    path: str
    message: str


@dataclass
class MappedChunk:
    """A chunk's rows with their converted values, one Arrow string array per rule path
    (null: left out of the payload)."""

    chunk: Chunk
    values: dict[str, pa.Array]
    problems: dict[int, list[RowProblem]] = field(default_factory=dict)

    @property
    def rows(self) -> list[int]:
        return self.chunk.rows

    @property
    def bad(self) -> list[BadRow]:
        return self.chunk.bad

    @property
    def blank(self) -> int:
        return self.chunk.blank

    def good(self) -> Iterator[int]:
        """Positions of the rows that mapped."""
        return (i for i in range(len(self.rows)) if i not in self.problems)

    def failures(self) -> Iterator[tuple[int, str, str, list[str]]]:
        """``(row, error_type, message, cells)`` for each row that did not map, in file order."""
        found = [(b.row, BAD_ROW, b.message, b.cells) for b in self.bad]
        for i, problems in self.problems.items():
            message = "; ".join(f"{p.path}: {p.message}" for p in problems)
            found.append((self.rows[i], problems[0].error_type, message, self.chunk.record(i)))
        return iter(sorted(found, key=lambda f: f[0]))


@dataclass(frozen=True)
class _Target:
    path: str
    rule: Rule
    search_by: bool = False
    needed: bool = False  # the payload cannot go without it (SearchBy value, event code)


class Plan:
    """A mapping fitted to a file's header, ready to map chunks of that file."""

    def __init__(
        self,
        mapping: Mapping,
        header: list[str],
        *,
        account: AccountFit | None = None,
    ) -> None:
        """``account``: what the account says about the mapping (``preflight.fit_account``):
        then the values are checked against its fields too, and its time zone and phone
        country are the defaults. ConfigError lists every problem found."""
        self.mapping = mapping
        self.header = header
        self.account = account
        self.timezone = (account and account.timezone) or mapping.source.timezone
        self.country = mapping.source.country or (account and account.country) or None
        search_path = f"lead.attributes.{mapping.lead.search_by}"
        self.targets = [
            _Target(
                path,
                rule,
                search_by=path == search_path,
                needed=path in (search_path, "activity.event"),
            )
            for path, rule in mapping.rules()
        ]
        problems = self._header_problems() + self._constant_problems()
        if problems:
            raise ConfigError(problems)
        if account is not None:
            problems = account.problems + self._account_constant_problems(account)
            if problems:
                raise ConfigError(problems)
        self._index = {name: header.index(name) for name in header}

    def _account_constant_problems(self, fit: AccountFit) -> list[Problem]:
        """Constants, defaults and map values against the fields behind their rules."""
        from importer.account.field_values import check_constant

        problems = []
        for target in self.targets:
            check = fit.fields.get(target.path)
            if check is None:
                continue
            for where, text in _constants(target.rule):
                converted = self._convert(pa.array([text], pa.string()), target.rule).values[0]
                if converted.is_valid and (why := check_constant(check, converted.as_py())):
                    problems.append(Problem(f"{target.path}.{where}", why))
        return problems

    # --- checks before any row is read ---------------------------------------------------

    def _header_problems(self) -> list[Problem]:
        problems = []
        listed = ", ".join(repr(h) for h in self.header)
        for target in self.targets:
            for column in target.rule.columns:
                count = self.header.count(column)
                if count == 1:
                    continue
                if count > 1:
                    message = (
                        f"column {column!r} appears {count} times in the header; "
                        "rename the copies so that each column name is unique"
                    )
                else:
                    message = (
                        f"column {column!r} is mapped but not in the file; columns are: {listed}"
                    )
                    close = _closest(column, self.header)
                    if close:
                        message += f" — did you mean {close!r}?"
                problems.append(Problem(target.path, message))
        return problems

    def _constant_problems(self) -> list[Problem]:
        """Constants, defaults and map values are converted once, now, so a bad one is a
        config error rather than a failure on every row."""
        problems = []
        for target in self.targets:
            rule = target.rule
            for where, text in _constants(rule):
                conversion = self._convert(pa.array([text], pa.string()), rule)
                if not conversion.values[0].is_valid:
                    problems.append(Problem(f"{target.path}.{where}", conversion.explain(text)))
        return problems

    # --- mapping -------------------------------------------------------------------------

    def map_chunk(self, chunk: Chunk) -> MappedChunk:
        size = len(chunk)
        columns: dict[str, pa.Array] = {}

        def column(name: str) -> pa.Array:
            if name not in columns:
                columns[name] = chunk.column(self._index[name])
            return columns[name]

        mapped = MappedChunk(chunk, {})
        if size == 0:
            return mapped
        for target in self.targets:
            values, problems = self._apply(target, column, size)
            mapped.values[target.path] = values
            for position, problem in problems:
                mapped.problems.setdefault(position, []).append(problem)
        mapped.problems = dict(sorted(mapped.problems.items()))
        return mapped

    def _apply(
        self, target: _Target, column: Callable[[str], pa.Array], size: int
    ) -> tuple[pa.Array, list[tuple[int, RowProblem]]]:
        rule = target.rule
        if rule.column is not None:
            raw = column(rule.column)
        elif rule.template is not None:
            raw = _fill_template(rule.template, column)
        else:
            raw = pa.repeat(pa.scalar(rule.value, pa.string()), size)
        stripped = pc.utf8_trim_whitespace(raw)
        empty = pc.equal(stripped, "")
        work = raw if rule.type == "text" and rule.map is None else stripped
        found: list[tuple[int, RowProblem]] = []

        if rule.map is not None:
            work, unmatched = _apply_map(stripped, rule.map, empty)
            if rule.default is not None:
                work = pc.if_else(unmatched, rule.default, work)
            else:
                keys = ", ".join(repr(k) for k in rule.map)
                for i in _positions(unmatched):
                    message = (
                        f"{stripped[i].as_py()!r} is not in the map ({keys}); add it to map: "
                        "or set a default"
                    )
                    found.append((i, RowProblem(INVALID_VALUE, target.path, message)))
        if rule.default is not None:
            work = pc.if_else(empty, rule.default, work)
            empty = pa.repeat(pa.scalar(False), size)

        todo = pc.if_else(empty, pa.scalar(None, pa.string()), work)
        conversion = self._convert(todo, rule)
        out = conversion.values
        for i in _positions(pc.and_(todo.is_valid(), out.is_null())):
            message = conversion.explain(todo[i].as_py())
            found.append((i, RowProblem(INVALID_VALUE, target.path, message)))

        if pc.any(empty).as_py():
            if target.needed or rule.fails_when_empty:
                message = self._empty_message(target)
                found.extend(
                    (i, RowProblem(MISSING_VALUE, target.path, message)) for i in _positions(empty)
                )
            elif rule.on_empty == "clear":
                out = pc.if_else(empty, "", out)
        if self.account is not None:
            found += self._account_problems(target, out, {i for i, _ in found})
        return out, found

    def _account_problems(
        self, target: _Target, out: pa.Array, flagged: set[int]
    ) -> list[tuple[int, RowProblem]]:
        from importer.account.field_values import event_problems, value_problems

        assert self.account is not None
        check = self.account.fields.get(target.path)
        if check is not None:
            judged = value_problems(check, out, self.account.activity)
        elif target.path == "activity.event" and target.rule.value is None:
            judged = event_problems(out, self.account.account)
        else:
            return []
        return [
            (i, RowProblem(kind, target.path, message))
            for i, kind, message in judged
            if i not in flagged
        ]

    def _convert(self, values: pa.Array, rule: Rule) -> Conversion:
        return CONVERTERS[rule.type](values, rule, self.timezone, self.country)

    def _empty_message(self, target: _Target) -> str:
        rule = target.rule
        what = f"column {rule.column!r} is empty" if rule.column else "the value is empty"
        if target.search_by:
            return f"{what}, and it is the SearchBy value: every row needs one to find its lead"
        if target.path == "activity.event":
            return f"{what}: every row needs an activity event code"
        return f"{what}, and the rule is required"

    # --- payloads ------------------------------------------------------------------------

    def payload(self, mapped: MappedChunk, position: int) -> dict[str, Any]:
        """The CreateCustom body for one mapped row."""
        values = {path: column[position].as_py() for path, column in mapped.values.items()}
        return build_payload(self.mapping, values)


def _constants(rule: Rule) -> list[tuple[str, str]]:
    """A rule's constant texts (value, default, map values) with where each sits in the rule."""
    found = []
    if rule.value is not None:
        found.append(("value", rule.value))
    if rule.default is not None:
        found.append(("default", rule.default))
    for key, value in (rule.map or {}).items():
        found.append((f"map.{key}", value))
    return [(where, text.strip()) for where, text in found if text.strip()]


def _fill_template(template: str, column: Callable[[str], pa.Array]) -> pa.Array:
    """A template's text for every row; each cell is stripped, and so is the result. A row whose
    cells are all empty gives an empty text, so the rule's empty handling applies."""
    parts: list[pa.Array | str] = []
    cells: list[pa.Array] = []
    position = 0
    for match in TEMPLATE_PART.finditer(template):
        parts.append(template[position : match.start()])
        literal = {"{{": "{", "}}": "}"}.get(match.group(0))
        if literal is None:
            cells.append(pc.utf8_trim_whitespace(column(match.group(1))))
            parts.append(cells[-1])
        else:
            parts.append(literal)
        position = match.end()
    parts.append(template[position:])
    text = pc.binary_join_element_wise(*[p for p in parts if not isinstance(p, str) or p], "")
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, " {2,}", " "))
    all_empty = pc.equal(cells[0], "")
    for cell in cells[1:]:
        all_empty = pc.and_(all_empty, pc.equal(cell, ""))
    return pc.if_else(all_empty, "", text)


def _apply_map(
    stripped: pa.Array, table: dict[str, str], empty: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """Map values exactly, then ignoring case. Returns the mapped values (null: no entry) and
    which non-empty values had no entry."""
    keys, targets = pa.array(list(table), pa.string()), pa.array(list(table.values()), pa.string())
    out = pc.take(targets, pc.index_in(stripped, value_set=keys))
    lowered = pa.array([k.lower() for k in table], pa.string())
    folded = pc.index_in(pc.utf8_lower(stripped), value_set=lowered)
    out = pc.coalesce(out, pc.take(targets, folded))
    unmatched = pc.and_(out.is_null(), pc.invert(empty))
    return out, unmatched


def _positions(mask: pa.Array) -> list[int]:
    """Where a boolean array is true (null counts as false)."""
    if not pc.any(mask).as_py():
        return []
    return np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False)).tolist()


def _closest(name: str, candidates: list[str]) -> str | None:
    folded = {c.casefold().strip(): c for c in candidates}
    if name.casefold().strip() in folded:
        return folded[name.casefold().strip()]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return close[0] if close else None
