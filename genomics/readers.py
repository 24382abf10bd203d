"""Reading labelled DNA sequences: FASTA (label in the header or a side file), CSV/TSV, benchmark folders (GUE,
Genomic Benchmarks).

Every reader checks the alphabet (A C G T N and the IUPAC ambiguity codes, any case) and raises ``DataError`` with a
one-line message that starts with the file and names the line (1-based, header line included) and, for FASTA, the
record. Lines are physical lines of the file: a CSV's first data row is line 2.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from genomics.alphabet import describe_invalid, invalid_characters
from titans_ts.errors import DataError

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
SEQUENCE_NAMES = ("seq", "sequence", "sequences", "dna")
LABEL_NAMES = ("label", "labels", "class", "target", "y")
ID_NAMES = ("id", "name", "record")
_HEADER_LABEL = re.compile(r"(?:^|\s)label=(\S+)")


@dataclass(frozen=True)
class SequenceSet:
    """Labelled sequences of one file: ``sequences[i]`` (as written, any case) has label ``labels[i]`` (its text in
    the file), starts on line ``lines[i]`` and is named ``ids[i]`` (FASTA, or a CSV with an id column; else None)."""

    sequences: list[str]
    labels: list[str]
    lines: list[int]
    ids: list[str] | None
    source: str

    def __len__(self) -> int:
        return len(self.sequences)

    def take(self, indices: Sequence[int]) -> SequenceSet:
        """The sequences at ``indices``, in that order, from the same file."""
        ids = [self.ids[i] for i in indices] if self.ids is not None else None
        pick = [self.sequences[i] for i in indices], [self.labels[i] for i in indices], [self.lines[i] for i in indices]
        return SequenceSet(*pick, ids, self.source)

    def where(self, i: int) -> str:
        """"<file>: line <n>" of sequence ``i``, with ", record '<id>'" when records are named."""
        record = f", record {self.ids[i]!r}" if self.ids is not None else ""
        return f"{self.source}: line {self.lines[i]}{record}"


def read_sequences(
    path: str | Path,
    labels: str | Path | None = None,
    sequence_column: str | None = None,
    label_column: str | None = None,
) -> SequenceSet:
    """Read ``path`` by its suffix (optionally .gz): FASTA (.fa .fasta .fna .fas, ``labels`` an optional side file)
    or a table (.csv; .tsv .tab .txt are tab-separated; the column options apply)."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(FASTA_SUFFIXES):
        return read_fasta(path, labels)
    if name.endswith(TABLE_SUFFIXES):
        if labels is not None:
            raise DataError(f"{path}: a side label file applies to FASTA input only; name the label column instead")
        return read_table(path, sequence_column, label_column)
    raise DataError(
        f"{path}: unknown file type; use FASTA ({' '.join(FASTA_SUFFIXES)}) or a table ({' '.join(TABLE_SUFFIXES)}), "
        "optionally gzipped"
    )


def read_fasta(path: str | Path, labels: str | Path | None = None) -> SequenceSet:
    """Records of a FASTA file; sequence lines are joined, blank lines skipped.

    A record's id is the first word of its header. Its label is, with a side file ``labels`` (CSV/TSV with columns
    ``id``/``label``, else the first two columns), the label of its id there; otherwise a ``label=L`` word in the
    header (``>id label=L``), else the text after the last "|" of the first word (``>id|L``, id is then the part
    before it).
    """
    source = str(path)
    records: list[tuple[str, int, list[tuple[int, str]]]] = []  # header, line, [(line, text)]
    for number, raw in enumerate(_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            records.append((line[1:].strip(), number, []))
        elif not records:
            raise DataError(f"{source}: line {number}: sequence before the first '>' header; is this a FASTA file?")
        else:
            records[-1][2].append((number, line))
    if not records:
        raise DataError(f"{source}: empty file")
    side = _side_labels(labels) if labels is not None else None
    ids, sequences, found_labels, lines = [], [], [], []
    for header, number, body in records:
        record_id, label = _id_and_label(header, side)
        where = f"{source}: line {number}, record {record_id!r}"
        if not body:
            raise DataError(f"{where}: no sequence lines")
        if label is None and side is not None:
            raise DataError(f"{where}: no label for this id in {labels}")
        if label is None:
            raise DataError(
                f"{where}: no label in the header (write '>id label=L' or '>id|L', or give a side label file)"
            )
        _check_alphabet(source, record_id, body)
        ids.append(record_id)
        sequences.append("".join(text for _, text in body))
        found_labels.append(label)
        lines.append(number)
    return SequenceSet(sequences, found_labels, lines, ids, source)


def read_table(path: str | Path, sequence_column: str | None = None, label_column: str | None = None) -> SequenceSet:
    """Rows of a CSV (comma) or TSV/TAB/TXT (tab) file with a header line.

    The sequence column is ``sequence_column``, else the first named seq/sequence/sequences/dna (any case); the label
    column is ``label_column``, else the first named label/labels/class/target/y; an id/name/record column, when
    present, names the records.
    """
    source = str(path)
    frame = _read_frame(path)
    sequence_name = _column(frame, sequence_column, SEQUENCE_NAMES, "sequence", source)
    label_name = _column(frame, label_column, LABEL_NAMES, "label", source)
    id_name = next((c for c in frame.columns if c.lower() in ID_NAMES and c not in (sequence_name, label_name)), None)
    if frame.height == 0:
        raise DataError(f"{source}: no sequences, only a header line")
    sequences = frame[sequence_name].str.strip_chars().to_list()
    labels = frame[label_name].str.strip_chars().to_list()
    ids = frame[id_name].to_list() if id_name is not None else None
    lines = list(range(2, frame.height + 2))
    for i, (sequence, label) in enumerate(zip(sequences, labels)):
        record = f", record {ids[i]!r}" if ids is not None else ""
        if not sequence:
            raise DataError(f"{source}: line {lines[i]}{record}: empty sequence in column {sequence_name!r}")
        if not label:
            raise DataError(f"{source}: line {lines[i]}{record}: empty label in column {label_name!r}")
        found = invalid_characters(sequence)
        if found:
            raise DataError(f"{source}: line {lines[i]}{record}: {describe_invalid(found)}")
    return SequenceSet(sequences, labels, lines, ids, source)


@dataclass(frozen=True)
class BenchmarkSplits:
    """The official splits of a benchmark folder: ``dev`` is None where the benchmark ships none (Genomic Benchmarks);
    where it does (GUE), it is the validation split."""

    train: SequenceSet
    dev: SequenceSet | None
    test: SequenceSet


def read_benchmark(directory: str | Path) -> BenchmarkSplits:
    """The splits of a benchmark folder: ``train.csv.gz``, ``dev.csv.gz`` if present, and ``test.csv.gz``, columns
    ``seq,label``. DataError (one line) for a missing split; a folder with a test split only says how to split it."""
    directory = Path(directory)
    missing = [n for n in ("train.csv.gz", "test.csv.gz") if not (directory / n).is_file()]
    if missing == ["train.csv.gz"]:
        raise DataError(
            f"{directory}: no train.csv.gz, only test.csv.gz: this benchmark's training split is not available here; "
            f"to learn from the test file alone, split it: --data {directory / 'test.csv.gz'} --test-fraction 0.2"
        )
    if missing:
        raise DataError(f"{directory}: not a benchmark folder; missing {', '.join(missing)}")
    dev = directory / "dev.csv.gz"
    train, test = (read_table(directory / f"{split}.csv.gz", "seq", "label") for split in ("train", "test"))
    return BenchmarkSplits(train, read_table(dev, "seq", "label") if dev.is_file() else None, test)


def _text(path: str | Path) -> str:
    """The decoded text of ``path`` (gunzipped when it ends in .gz); DataError if missing or not UTF-8."""
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise DataError(f"{path}: not a readable text file ({err})") from None


def _read_frame(path: str | Path) -> pl.DataFrame:
    """A table of ``path`` with every column as text; the separator follows the suffix (.csv: comma, else tab)."""
    text = _text(path)
    if not text.strip():
        raise DataError(f"{path}: empty file")
    separator = "," if str(path).lower().removesuffix(".gz").endswith(".csv") else "\t"
    try:
        return pl.read_csv(text.encode(), separator=separator, infer_schema=False)
    except pl.exceptions.PolarsError as err:
        raise DataError(f"{path}: cannot parse as {'CSV' if separator == ',' else 'TSV'}: {err}") from None


def _column(frame: pl.DataFrame, explicit: str | None, names: tuple[str, ...], role: str, source: str) -> str:
    """The ``role`` column: ``explicit`` (which must exist), else the first whose lower-cased name is in ``names``."""
    if explicit is not None:
        if explicit not in frame.columns:
            raise DataError(f"{source}: {role} column {explicit!r} missing; columns: {', '.join(frame.columns)}")
        return explicit
    found = next((c for c in frame.columns if c.lower() in names), None)
    if found is None:
        raise DataError(
            f"{source}: {role} column missing (looked for {', '.join(names)}); columns: {', '.join(frame.columns)}; "
            f"name it with --{role}-column"
        )
    return found


def _side_labels(path: str | Path) -> dict[str, str]:
    """id -> label of a side file (CSV/TSV; columns id and label, else its first two)."""
    frame = _read_frame(path)
    if frame.width < 2:
        raise DataError(f"{path}: a label file needs two columns, id and label; columns: {', '.join(frame.columns)}")
    id_name = next((c for c in frame.columns if c.lower() in ID_NAMES), frame.columns[0])
    label_name = next((c for c in frame.columns if c.lower() in LABEL_NAMES), frame.columns[1])
    ids = frame[id_name].str.strip_chars().to_list()
    labels = frame[label_name].str.strip_chars().to_list()
    seen: dict[str, int] = {}
    for line, record_id in enumerate(ids, start=2):
        if record_id in seen:
            raise DataError(f"{path}: line {line}: id {record_id!r} already given on line {seen[record_id]}")
        seen[record_id] = line
    return {i: label for i, label in zip(ids, labels) if label}


def _id_and_label(header: str, side: dict[str, str] | None) -> tuple[str, str | None]:
    """The record id and label (None if absent) of a FASTA header, as ``read_fasta`` documents."""
    first = header.split(maxsplit=1)[0] if header else ""
    if side is not None:
        return first, side.get(first)
    match = _HEADER_LABEL.search(header)
    if match:
        return first, match.group(1)
    if "|" in first:
        record_id, label = first.rsplit("|", 1)
        return record_id, label or None
    return first, None


def _check_alphabet(source: str, record_id: str, body: list[tuple[int, str]]) -> None:
    """DataError naming the line of the first bad character of a record, and every bad character of the record."""
    found, offset, first_line = [], 0, None
    for number, text in body:
        bad = invalid_characters(text)
        if bad and first_line is None:
            first_line = number
        found += [(offset + position, character) for position, character in bad]
        offset += len(text)
    if found:
        raise DataError(f"{source}: line {first_line}, record {record_id!r}: {describe_invalid(found)}")
