"""The series a served model reads, kept in a database: an SQLite file by default, PostgreSQL for several replicas
(any SQLAlchemy URL). What ``titans-ts serve`` answers, the HTTP API and the MCP tools alike, is done here.

Every series is one row (``titans_series``: id, ``LiveSeries.to_bytes``, row count); an observation is read and its
new state committed before the call returns, so an acknowledged observation survives any crash and a restarted
service answers as the old one would have. Observations of one series are applied one at a time, in the order they
take its lock (a lock per series in the process; on PostgreSQL the row's ``SELECT … FOR UPDATE`` across replicas);
different series proceed in parallel. The database remembers the model it served (``titans_serve_model``) and refuses
another one, so that no series is read by a model it was not started with.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, create_engine, event, select, text
from sqlalchemy.engine import Connection

from titans_ts.errors import DataError
from titans_ts.forecasting.data.panel import next_dates
from titans_ts.forecasting.live import LiveModel, LiveSeries, read_observations

_META = MetaData()
SERIES = Table(
    "titans_series",
    _META,
    Column("id", String(200), primary_key=True),
    Column("state", LargeBinary, nullable=True),
    Column("rows", Integer, nullable=False, default=0),
)
MODEL = Table("titans_serve_model", _META, Column("fingerprint", String(64), primary_key=True))
MAX_ID = 200
DECODED = 1024
"""How many series a store keeps read (``LiveSeries``) beside their stored bytes."""


class UnknownSeries(LookupError):
    """A series with no observations (and none in the model file)."""


def database_url(state_db: str) -> str:
    """An SQLAlchemy URL: ``state_db`` itself when it is one (``postgresql://…`` read with psycopg 3, the driver
    installed), else an SQLite file at that path."""
    if "://" not in state_db:
        return f"sqlite:///{Path(state_db).expanduser().resolve()}"
    return (
        "postgresql+psycopg://" + state_db.removeprefix("postgresql://")
        if state_db.startswith("postgresql://")
        else state_db
    )


class SeriesStore:
    """The series of ``live`` (``fingerprint``: ``live.fingerprint()``) in the database at ``url``: ``observe``,
    ``forecast``, ``describe``, ``series_ids``, ``check`` (readiness). Results are JSON-ready dictionaries; bad input
    raises ``DataError``, an unknown series ``UnknownSeries``."""

    def __init__(self, live: LiveModel, url: str, max_rows: int = 10_000) -> None:
        self.live, self.max_rows = live, max_rows
        self.engine = create_engine(url, pool_pre_ping=True)
        self.location = self.engine.url.render_as_string(hide_password=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_durable)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._model_turn = threading.Lock()  # the model reads one call at a time; database work overlaps
        # The series last read or written, with their stored bytes: a series whose stored bytes are unchanged (no
        # other replica wrote it) is not read again. Never changed in place: ``observe`` works on a copy.
        self._decoded: OrderedDict[str, tuple[bytes, LiveSeries]] = OrderedDict()
        self._decoded_lock = threading.Lock()
        _META.create_all(self.engine)
        self.fingerprint = live.fingerprint()
        with self.engine.begin() as conn:
            stored = conn.execute(select(MODEL.c.fingerprint)).scalars().all()
            if not stored:
                conn.execute(MODEL.insert().values(fingerprint=self.fingerprint))
            elif stored != [self.fingerprint]:
                raise DataError(
                    f"{self.location}: holds the series of another model "
                    f"(fingerprint {stored[0]}, this model's {self.fingerprint}); use another --state-db"
                )

    def observe(self, series_id: str, payload: Any) -> dict[str, Any]:
        """Read the observation ``payload`` (``live.read_observations``) into series ``series_id`` and commit it."""
        _check_id(series_id)
        source = f"series {series_id!r}"
        dates, values = read_observations(payload, self.live.columns, source)
        if len(dates) > self.max_rows:
            raise DataError(
                f"{source}: {len(dates)} rows in one observation; the service takes at most {self.max_rows} "
                f"(--max-rows): post them in parts, in order"
            )
        with self._lock(series_id):
            with self.engine.begin() as conn:
                stored = self._read(conn, series_id, for_update=True)
                series = stored.copy() if stored else self.live.new_series(series_id)
                blocks = series.blocks
                with self._model_turn:
                    series.observe(self.live, dates, values, source)
                state = series.to_bytes()
                conn.execute(_insert(self.engine.dialect.name, {"id": series_id, "state": state, "rows": series.rows}))
            self._remember(series_id, state, series)  # once committed
        read = series.blocks - blocks
        return {
            "series": series_id,
            "accepted": len(dates),
            "rows": series.rows,
            "last_timestamp": _stamp(series.last),
            "blocks_read": series.blocks,
            "surprise_of_blocks_read": series.surprises[-read:] if read else [],
        }

    def forecast(self, series_id: str, horizon: int | None = None, compare_frozen: bool = False) -> dict[str, Any]:
        """The next ``horizon`` (default: the model's) steps of series ``series_id`` from the memory it has reached,
        and from the frozen memory (M_0) too with ``compare_frozen``."""
        limit = self.live.model.config.horizon
        horizon = limit if horizon is None else horizon
        if not 1 <= horizon <= limit:
            raise DataError(f"horizon {horizon} is outside the model's 1…{limit}; train a model with that horizon")
        series = self._existing(series_id)
        with self._model_turn:
            dates, values = series.forecast(self.live, horizon)
            frozen = series.forecast(self.live, horizon, frozen=True)[1] if compare_frozen else None
        result = {
            "series": series_id,
            "horizon": horizon,
            "timestamps": [_stamp(d) for d in dates],
            "forecast": self._columns(values),
            "blocks_read": series.blocks,
        }
        if frozen is not None:
            result["frozen"] = self._columns(frozen)
        return result

    def describe(self, series_id: str) -> dict[str, Any]:
        """Where series ``series_id`` stands: rows, last timestamp, blocks read, their recent surprise."""
        series = self._existing(series_id)
        lookback = self.live.model.config.lookback
        return {
            "series": series_id,
            "rows": series.rows,
            "last_timestamp": _stamp(series.last),
            "next_timestamp": _stamp(next_dates(series.last, self.live.freq, 1)[0]),
            "blocks_read": series.blocks,
            "rows_until_next_block": 2 * lookback - len(series.stream.rows),
            "surprise": series.surprises[-1] if series.surprises else None,
            "recent_surprise": series.surprises,
        }

    def series_ids(self) -> list[str]:
        """Every series with observations, and those of the model file."""
        with self.engine.connect() as conn:
            stored = conn.execute(select(SERIES.c.id).where(SERIES.c.state.is_not(None))).scalars().all()
        return sorted(set(stored) | set(self.live.series))

    def check(self) -> None:
        """Raise unless the database answers."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    def _existing(self, series_id: str) -> LiveSeries:
        _check_id(series_id)
        with self.engine.connect() as conn:
            series = self._read(conn, series_id)
        if series is None and series_id in self.live.series:
            series = self.live.new_series(series_id)
        if series is None:
            raise UnknownSeries(
                f"series {series_id!r} has no observations; POST them to /v1/series/{series_id}/observations"
            )
        return series

    def _read(self, conn: Connection, series_id: str, for_update: bool = False) -> LiveSeries | None:
        if for_update and self.engine.dialect.name != "sqlite":
            # A placeholder row to lock, so that replicas creating the same new series take turns too.
            conn.execute(_insert(self.engine.dialect.name, {"id": series_id, "state": None, "rows": 0}, update=False))
        query = select(SERIES.c.state).where(SERIES.c.id == series_id)
        state = conn.execute(query.with_for_update() if for_update else query).scalar()
        if state is None:
            return None
        with self._decoded_lock:
            known = self._decoded.get(series_id)
        if known is not None and known[0] == state:  # the very bytes read before: no need to read them again
            return known[1]
        series = LiveSeries.from_bytes(self.live.model, state)
        self._remember(series_id, state, series)
        return series

    def _remember(self, series_id: str, state: bytes, series: LiveSeries) -> None:
        """Keep ``series`` as the reading of ``state`` (the last ``DECODED`` series read or written)."""
        with self._decoded_lock:
            self._decoded[series_id] = (bytes(state), series)
            self._decoded.move_to_end(series_id)
            while len(self._decoded) > DECODED:
                self._decoded.popitem(last=False)

    def _columns(self, values: np.ndarray) -> dict[str, list[float]]:
        return {name: values[:, j].tolist() for j, name in enumerate(self.live.outputs)}

    @contextmanager
    def _lock(self, series_id: str) -> Iterator[None]:
        with self._locks_lock:
            lock = self._locks.setdefault(series_id, threading.Lock())
        with lock:
            yield


def _insert(dialect: str, row: dict[str, Any], update: bool = True) -> Any:
    """An INSERT of ``row`` into ``titans_series`` that updates (``update``) or keeps an existing row of its id."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(SERIES).values(**row)
    if update:
        return statement.on_conflict_do_update(index_elements=["id"], set_={"state": row["state"], "rows": row["rows"]})
    return statement.on_conflict_do_nothing(index_elements=["id"])


def _sqlite_durable(connection: Any, _record: Any) -> None:
    """Write-ahead log, a commit synced to disk before it returns, and waiting (not failing) for another writer."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _check_id(series_id: str) -> None:
    if not series_id or len(series_id) > MAX_ID or not series_id.isprintable():
        raise DataError(f"a series id is 1 to {MAX_ID} printable characters; got {series_id[:50]!r}")


def _stamp(stamp: np.datetime64 | None) -> str | None:
    """A timestamp as JSON gives it: ISO text, "2024-01-05 04:00:00"."""
    return None if stamp is None else str(pd.Timestamp(stamp))
