"""Reading dates: which column(s) of a table hold its dates and how they read (ISO and national formats, month
names, quarter and month labels, compact digits, separate year / quarter / month / day columns), with pandas'
format guesses; every reading reports a description of the format it used."""

from __future__ import annotations

import calendar
import re
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import polars as pl
from pandas.tseries.api import guess_datetime_format

from titans_ts.errors import DataError

DATE_NAMES = ("date", "datetime", "time", "timestamp", "ds")

_DIGIT_DATE_NAMES = ("year", "period")
"""Column names besides DATE_NAMES whose digit-only values may be dates (1871, 197401, 19580329)."""
_DIGIT_FORMATS = {4: "%Y", 6: "%Y%m", 8: "%Y%m%d"}
_MONTH_LABELS = ("%Y-%m", "%Y/%m", "%YM%m", "%b %Y", "%B %Y", "%b-%Y", "%B-%Y")
"""Month period labels (1974-01, 1974/01, 1974M01, Jan 1974, January 1974, Jan-1974) that pandas does not guess."""
_QUARTER_LABEL = r"(?i)^(?:(?P<y1>\d{4})\s*-?\s*Q(?P<q1>[1-4])|Q(?P<q2>[1-4])\s*-?\s*(?P<y2>\d{4}))$"
"""Quarter labels: 1974Q1, 1974-Q1, 1974 Q1, Q1 1974 (any case)."""
_YEAR_DAY_MONTH = re.compile(r"%[Yy]\W?%d\W?%m")
_PART_NAMES = {"year": ("year",), "quarter": ("quarter", "qtr", "q"), "month": ("month",), "day": ("day",)}
"""The names (any case) of separate year, quarter, month and day columns that together hold the dates."""
_PART_TEXT = {
    "year": "years (4 digits)",
    "quarter": "quarters (1-4 or Q1-Q4)",
    "month": "months (1-12 or a month name)",
    "day": "days of the month (1-31)",
}
_MONTH_NUMBERS = {
    name.lower(): number
    for names in (calendar.month_name, calendar.month_abbr)
    for number, name in enumerate(names)
    if name
}
_Reader = Callable[[pl.Series], pl.Series]
"""Reads stripped strings as naive datetimes, null where a value does not read."""


def _key(name: str) -> str:
    return name.strip().lower()


def date_label(names: list[str]) -> str:
    """ "date column 'date'", or "date columns 'Year', 'Quarter'" for dates in separate columns."""
    return f"date column {names[0]!r}" if len(names) == 1 else f"date columns {', '.join(map(repr, names))}"


def date_columns(
    frame: pl.DataFrame, date_col: str | None, date_format: str | None, source: str
) -> tuple[list[str], pl.Series, str]:
    """The date column(s), their dates (naive datetimes, no nulls) and how they were read."""
    if date_col is not None:
        names = [date_col] if date_col in frame.columns else [name.strip() for name in date_col.split(",")]
        for name in names:
            if name not in frame.columns:
                raise DataError(f"{source}: date column {name!r} not found; columns: {', '.join(frame.columns)}")
        if len(names) == 1:
            return names, *_dates_or_raise(frame[names[0]], date_format, source)
        if len(names) > 3:
            raise DataError(
                f"{source}: date columns {date_col!r} are {len(names)} columns; give one date column, or "
                "year,quarter or year,month or year,month,day"
            )
        if date_format is not None:
            raise DataError(f"{source}: a date format applies to one date column, not to {date_label(names)}")
        return names, *_date_parts(frame, names, source)
    for name in frame.columns:
        if _key(name) in DATE_NAMES:
            return [name], *_dates_or_raise(frame[name], date_format, source)
    parts = _part_columns(frame.columns) if date_format is None else None
    if parts is not None:
        return parts, *_date_parts(frame, parts, source)
    for index, name in enumerate(frame.columns):
        reading = _read_dates(frame[name], index == 0 or _key(name) in _DIGIT_DATE_NAMES, date_format)
        if reading is not None and reading[1].null_count() == 0:
            return [name], reading[1], reading[0]
    raise DataError(
        f"{source}: no date column found (none named {'/'.join(DATE_NAMES)} and none parses as datetimes); "
        f"columns: {', '.join(frame.columns)}; name it with --date-col"
    )


def parse_dates(col: pl.Series) -> pl.Series | None:
    """Naive datetimes parsed from ``col`` (nulls stay null), or None if some value does not parse.

    Digit-only values (1871, 19580329) are not dates here: ``load_table`` reads them only in a column named as
    the date or the first column."""
    reading = _read_dates(col, digits=False, date_format=None)
    return reading[1] if reading is not None and reading[1].null_count() == col.null_count() else None


def _dates_or_raise(col: pl.Series, date_format: str | None, source: str) -> tuple[pl.Series, str]:
    """The dates of the date column ``col`` and how they were read; DataError at its first empty value, else at
    the first value the likeliest reading does not read."""
    if col.null_count():
        row = int(col.is_null().arg_true()[0])
        raise DataError(f"{source}: date column {col.name!r} is empty at row {row + 1}")
    reading = _read_dates(col, digits=True, date_format=date_format)
    if reading is None or reading[1].null_count():
        row = 0 if reading is None else int(reading[1].is_null().arg_true()[0])
        if date_format is not None:
            raise DataError(
                f"{source}: column {col.name!r} does not match the date format {date_format!r}: "
                f"row {row + 1} has {col[row]!r}"
            )
        alone = None if reading is None else _read_dates(col.slice(row, 1), digits=True, date_format=None)
        if alone is not None and not alone[1].null_count():
            raise DataError(
                f"{source}: column {col.name!r} mixes date formats: {reading[1].count()} rows read as {reading[0]}, "
                f"but row {row + 1} has {col[row]!r} ({alone[0]}); write every date in one format"
            )
        raise DataError(
            f"{source}: column {col.name!r} does not hold dates: row {row + 1} has {col[row]!r}; "
            "name the date column with --date-col or give its format with --date-format"
        )
    return reading[1], reading[0]


def _read_dates(col: pl.Series, digits: bool, date_format: str | None) -> tuple[str, pl.Series] | None:
    """How ``col`` reads as dates: (description, naive datetimes with null where a value does not read) of the
    first reading that reads every value, else of the one that reads the most; None if none reads its first, middle
    or last value. ``digits`` allows digit-only dates (1871, 197401, 19580329); ``date_format`` forces a strftime
    format."""
    if col.dtype == pl.Date:
        return "native datetime", col.cast(pl.Datetime("us"))
    if isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is not None:
            col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return "native datetime", col
    if col.dtype != pl.String and not col.dtype.is_integer():
        return None
    text = col.cast(pl.String).str.strip_chars()
    best = None
    for description, reader in _readers(text, digits, date_format):
        parsed = reader(text)
        if parsed.null_count() == text.null_count():
            return description, parsed
        if best is None or parsed.null_count() < best[1].null_count():
            best = description, parsed
    return best


def _readers(text: pl.Series, digits: bool, date_format: str | None) -> list[tuple[str, _Reader]]:
    """The readings (description, reader) of the stripped strings ``text`` that read its first, middle or last
    value, likeliest first (those of the first value first: a file whose first rows differ from the rest is read as
    the rest). Numbers are dates only when ``digits`` allows and they are all digits, in a compact format."""
    values = text.drop_nulls()
    if values.is_empty():
        return []
    first = values[0]
    probes = list(dict.fromkeys([first, values[len(values) // 2], values[-1]]))
    if date_format is not None:
        readers = [(date_format, partial(_strftime, fmt=date_format))]
    elif non_numbers(text) == 0 or non_numbers(text.str.replace_all(",", ".", literal=True)) == 0:
        compact = _digit_format(first) if digits and values.str.contains(r"^\d+$").all() else None
        readers = [] if compact is None else [(compact, partial(_strftime, fmt=compact, width=len(first)))]
    else:
        quarters = next((value for value in probes if re.match(_QUARTER_LABEL, value)), None)
        readers = [] if quarters is None else [(f"quarter labels ({quarters})", _quarter_labels)]
        formats = dict.fromkeys([*(fmt for value in probes for fmt in _guesses(value)), *_MONTH_LABELS, "ISO8601"])
        readers += [("ISO 8601" if fmt == "ISO8601" else fmt, partial(_strftime, fmt=fmt)) for fmt in formats]
    probe = pl.Series(text.name, probes)
    return [(description, reader) for description, reader in readers if reader(probe).null_count() < len(probes)]


def _guesses(value: str) -> list[str]:
    """pandas' guesses at the strftime format of ``value``, day-first before month-first (d/m/Y before m/d/Y),
    without year-day-month and formats lacking a year."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when a guess contradicts ``dayfirst``
        guesses = [guess_datetime_format(value, dayfirst=dayfirst) for dayfirst in (True, False)]
    return [fmt for fmt in guesses if fmt and re.search("%[Yy]", fmt) and not _YEAR_DAY_MONTH.search(fmt)]


def _digit_format(value: str) -> str | None:
    """The compact format of the digit-only date ``value`` (1871, 197401, 19580329, 195803291230), or None."""
    if len(value) in _DIGIT_FORMATS:
        return _DIGIT_FORMATS[len(value)]
    return next((fmt for fmt in _guesses(value) if fmt.startswith("%Y%m%d")), None)


def _strftime(text: pl.Series, fmt: str, width: int | None = None) -> pl.Series:
    """``text`` read with the strftime ``fmt`` (or "ISO8601") as naive UTC datetimes, null where a value does not
    match or, given ``width``, does not have that many characters."""
    parsed = pd.to_datetime(text.to_numpy(), format=fmt, errors="coerce", utc=True)
    dates = pl.Series(text.name, parsed.tz_convert(None).as_unit("us").to_numpy())
    return dates if width is None else pl.select(pl.when(text.str.len_chars() == width).then(dates)).to_series()


def _quarter_labels(text: pl.Series) -> pl.Series:
    """Quarter labels (1974Q1, 1974-Q1, 1974 Q1, Q1 1974) as the quarter's first day, null where a value is not
    one."""
    parts = text.str.extract_groups(_QUARTER_LABEL).struct.unnest()
    year, quarter = pl.coalesce("y1", "y2").cast(pl.Int32), pl.coalesce("q1", "q2").cast(pl.Int32)
    return parts.select(pl.datetime(year, quarter * 3 - 2, 1, time_unit="us").alias(text.name)).to_series()


def _part_columns(columns: list[str]) -> list[str] | None:
    """The separate year + month (+ day) or year + quarter columns, found by name, or None."""
    found = {role: next((c for c in columns if _key(c) in names), None) for role, names in _PART_NAMES.items()}
    if found["year"] is None or (found["month"] is None and found["quarter"] is None):
        return None
    if found["month"] is None:
        return [found["year"], found["quarter"]]
    return [name for name in (found["year"], found["month"], found["day"]) if name is not None]


def _date_parts(frame: pl.DataFrame, names: list[str], source: str) -> tuple[pl.Series, str]:
    """Dates from separate year, quarter or month, and day columns (``names`` in that order; the second of two
    is a quarter when named so or holding Q1..Q4, else a month) and how they were read."""
    if len(names) == 3:
        roles = ["year", "month", "day"]
    else:
        labels = frame[names[1]].cast(pl.String).str.strip_chars()
        quarterly = _key(names[1]) in _PART_NAMES["quarter"] or bool(labels.str.contains(r"(?i)^Q[1-4]$").all())
        roles = ["year", "quarter" if quarterly else "month"]
    numbers = frame.select(_part_number(role, name).alias(name) for role, name in zip(roles, names))
    for role, name in zip(roles, names):
        col = frame[name]
        if col.null_count():
            raise DataError(f"{source}: date column {name!r} is empty at row {int(col.is_null().arg_true()[0]) + 1}")
        if numbers[name].null_count():
            row = int(numbers[name].is_null().arg_true()[0])
            raise DataError(
                f"{source}: column {name!r} does not hold {_PART_TEXT[role]}: row {row + 1} has {col[row]!r}"
            )
    text = numbers.select(pl.format("{}-{}-{}" if len(names) == 3 else "{}-{}-1", *names)).to_series()
    dates = _strftime(text, "%Y-%m-%d")
    if dates.null_count():
        row = int(dates.is_null().arg_true()[0])
        raise DataError(f"{source}: {date_label(names)} do not form a date at row {row + 1} ({text[row]})")
    return dates.alias(names[0]), f"{' + '.join(roles)} columns ({', '.join(names)})"


def _part_number(role: str, name: str) -> pl.Expr:
    """The year, month (the quarter's first for a quarter) or day in column ``name``, null where it holds none."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    if role == "year":
        return text.str.extract(r"^(\d{4})$").cast(pl.Int32)
    if role == "quarter":
        return text.str.extract(r"(?i)^Q?([1-4])$").cast(pl.Int32) * 3 - 2
    number = text.str.extract(r"^(\d{1,2})$").cast(pl.Int32)
    if role == "day":
        return pl.when(number.is_between(1, 31)).then(number)
    named = text.str.to_lowercase().replace_strict(_MONTH_NUMBERS, default=None, return_dtype=pl.Int32)
    return pl.coalesce(pl.when(number.is_between(1, 12)).then(number), named)


def stamp_text(stamp: np.datetime64) -> str:
    """``stamp`` as messages show it: "2024-01-05 04:00:00", or "2024-01-05" at midnight."""
    time = pd.Timestamp(stamp)
    return time.strftime("%Y-%m-%d") if time == time.normalize() else str(time)


def non_numbers(col: pl.Series) -> int:
    """How many values of the strings ``col`` are not numbers (nulls are)."""
    return int((col.str.strip_chars().cast(pl.Float64, strict=False).is_null() & col.is_not_null()).sum())


def check_date_format(date_format: str, source: str) -> None:
    """DataError unless ``date_format`` is a strftime format pandas can read dates with."""
    try:
        pd.to_datetime(["2000"], format=date_format, errors="coerce")
    except ValueError as err:
        raise DataError(f"{source}: invalid date format {date_format!r}: {str(err).splitlines()[0]}") from err
