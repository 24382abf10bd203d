"""The one exception the applications raise for bad input (``DataError``), the warning for input problems they
handled (``DataWarning``), and a positivity check for arguments."""

from __future__ import annotations

from numbers import Integral


class DataError(ValueError):
    """A one-line, user-facing problem with an input file or a data argument.

    The message starts with the file (or series) it concerns and names the column and row where that applies;
    rows are counted from 1, header excluded (row 1 of a CSV is its line 2).
    """


class DataWarning(UserWarning):
    """A problem with input data that was handled (e.g. rows sorted into time order): one line, starting with the
    file it concerns, naming the column and row where that applies."""


def require_positive(name: str, value: object, source: str) -> None:
    """Raise DataError unless ``value`` is an integer > 0 (``name`` is e.g. "horizon")."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise DataError(f"{source}: {name} must be a positive integer, got {value!r}")
