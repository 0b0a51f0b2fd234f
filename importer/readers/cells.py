"""Workbook cells as the text the sheet shows: dates as ISO date-times, numbers as Excel's
General format shows them (15 significant digits, no float noise), booleans as TRUE/FALSE.

``value_text`` converts one value; ``text_column`` a whole column of calamine's values at a
time, mostly in bulk through Arrow and NumPy, which is several times faster than per cell and
gives the same text.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def text_column(values: tuple[object, ...]) -> list[str]:
    """One column of calamine values as text, as ``value_text`` gives it, mostly in bulk."""
    texts = list(values)
    if all(v.__class__ is str for v in values):
        return texts  # type: ignore[return-value]
    by_class: dict[type, list[int]] = {}
    for index, value in enumerate(values):
        if value.__class__ is not str:
            by_class.setdefault(value.__class__, []).append(index)
    for kind, indexes in by_class.items():
        if kind is float:
            converted = _float_texts([values[i] for i in indexes])  # type: ignore[misc]
        elif kind in (dt.datetime, dt.date):
            pattern = "%Y-%m-%d %H:%M:%S" if kind is dt.datetime else "%Y-%m-%d"
            converted = _date_texts([values[i] for i in indexes], pattern)  # type: ignore[misc]
        else:
            converted = [value_text(values[i]) for i in indexes]
        for index, text in zip(indexes, converted, strict=True):
            texts[index] = text
    return texts  # type: ignore[return-value]


def _float_texts(values: list[float]) -> list[str]:
    """``number_text`` for many floats: whole numbers (most of them) through Arrow's cast."""
    array = np.array(values, dtype=np.float64)
    whole = np.isfinite(array) & (np.abs(array) < 1e15) & (array == np.floor(array))
    texts: list[str] = [""] * len(values)
    if whole.any():
        digits = pa.array(array[whole].astype(np.int64)).cast(pa.string()).to_pylist()
        for index, text in zip(np.flatnonzero(whole).tolist(), digits, strict=True):
            texts[index] = text
    for index in np.flatnonzero(~whole).tolist():
        texts[index] = number_text(values[index])
    return texts


def _date_texts(values: list[dt.date], pattern: str) -> list[str]:
    try:
        array = pa.array(values)
        if pa.types.is_timestamp(array.type):  # whole seconds, as strftime's %S shows them
            array = array.cast(pa.timestamp("s"), safe=False)
        return pc.strftime(array, format=pattern).to_pylist()
    except (pa.ArrowException, OverflowError, ValueError):
        return [value.strftime(pattern) for value in values]


def cell_text(cell: object) -> str:
    """An openpyxl-style cell (anything with ``.value``) as the text it shows."""
    return value_text(getattr(cell, "value", None))


def value_text(value: object) -> str:
    """A cell's value as the text it shows: dates as ISO date-times, numbers without float
    noise, booleans as TRUE/FALSE, durations as hours:minutes:seconds."""
    if value.__class__ is float:  # the most common, first
        return number_text(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def number_text(value: float) -> str:
    """A float as Excel shows it in General format: 15 significant digits, no exponent, no .0."""
    if math.isnan(value) or math.isinf(value):
        return ""
    if value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text:
        text = np.format_float_positional(float(text), trim="-")
    return text
