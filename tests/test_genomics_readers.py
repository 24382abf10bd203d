"""Reading labelled DNA: FASTA (multi-line, lower case, labels in the header or a side file), CSV/TSV, Genomic
Benchmarks folders and the bundled demo; the validation split; and the one-line DataError of every bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from genomics.catalog import DEMO_DIR, available_benchmarks, resolve_benchmark
from genomics.dataset import prepare_classification
from genomics.make_demo import DEMO, demo_csv, planted_motif
from genomics.readers import SequenceSet, read_benchmark, read_fasta, read_sequences, read_table
from genomics.tokens import NucleotideTokenizer
from titans_ts.errors import DataError


def write(path: Path, text: str) -> Path:
    """``text`` written to ``path`` (gzipped when the name ends in .gz)."""
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return path


def labelled(n: int = 40, length: int = 30, source: str = "mem.csv", n_classes: int = 2) -> SequenceSet:
    """``n`` sequences of ``length`` bases with labels cycling through ``n_classes`` classes."""
    sequences = ["ACGT" * (length // 4) + "A" * (length % 4)] * n
    return SequenceSet(sequences, [str(i % n_classes) for i in range(n)], list(range(2, n + 2)), None, source)


def test_fasta_multiline_lowercase_and_header_labels(tmp_path: Path) -> None:
    fasta = write(
        tmp_path / "reads.fa.gz",
        ">r1 label=enhancer some description\nacgtAC\nGTNN\n\n>r2|0\nTTTT\n>r3 label=1\nggcc\nAAAT\nrYk\n",
    )
    records = read_fasta(fasta)
    assert records.ids == ["r1", "r2", "r3"]
    assert records.sequences == ["acgtACGTNN", "TTTT", "ggccAAATrYk"]
    assert records.labels == ["enhancer", "0", "1"]
    assert records.lines == [1, 5, 7]
    assert records.where(2) == f"{fasta}: line 7, record 'r3'"


def test_fasta_labels_from_a_side_file(tmp_path: Path) -> None:
    fasta = write(tmp_path / "x.fasta", ">a first\nACGT\n>b\nCCGG\nTT\n")
    side = write(tmp_path / "labels.tsv", "label\tid\npromoter\tb\nother\ta\nunused\tz\n")
    records = read_sequences(fasta, labels=side)
    assert records.ids == ["a", "b"] and records.labels == ["other", "promoter"]
    assert records.sequences == ["ACGT", "CCGGTT"]


def test_csv_and_tsv_with_detected_and_named_columns(tmp_path: Path) -> None:
    csv = write(tmp_path / "d.csv", "ID,Sequence,Class\nx1,acgt,pos\nx2,GGCC,neg\n")
    table = read_sequences(csv)
    assert table.sequences == ["acgt", "GGCC"] and table.labels == ["pos", "neg"] and table.ids == ["x1", "x2"]
    assert table.where(1) == f"{csv}: line 3, record 'x2'"
    tsv = write(tmp_path / "d.tsv.gz", "dna_string\ty_true\nAAAA\t1\nCCCC\t0\n")
    named = read_table(tsv, sequence_column="dna_string", label_column="y_true")
    assert named.sequences == ["AAAA", "CCCC"] and named.labels == ["1", "0"] and named.ids is None


def test_benchmark_folder_and_bundled_demo(tmp_path: Path) -> None:
    folder = tmp_path / "genomic" / "toy"
    folder.mkdir(parents=True)
    write(folder / "train.csv.gz", "seq,label\nACGT,0\nTTTT,1\n")
    write(folder / "test.csv.gz", "seq,label\nGGGG,1\n")
    assert available_benchmarks(tmp_path / "genomic") == {"demo": DEMO_DIR, "toy": folder}
    splits = read_benchmark(resolve_benchmark("TOY", tmp_path / "genomic"))
    assert splits.train.sequences == ["ACGT", "TTTT"] and splits.test.labels == ["1"] and splits.dev is None
    with pytest.raises(DataError, match=r"^unknown genomic data set 'nope'; available: demo, toy \(bundled and "):
        resolve_benchmark("nope", tmp_path / "genomic")
    demo = read_benchmark(DEMO_DIR)
    assert (len(demo.train), len(demo.test), demo.dev) == (DEMO["n_train"], DEMO["n_test"], None)


def test_a_gue_folder_reads_its_dev_split_as_the_validation_split(tmp_path: Path) -> None:
    """GUE ships train / dev / test: dev is the validation split as it is (nothing carved from train)."""
    folder = tmp_path / "gue_toy"
    folder.mkdir()
    write(folder / "train.csv.gz", "seq,label\n" + "".join(f"{b * 8},{i % 2}\n" for i, b in enumerate("ACGTACGT")))
    write(folder / "dev.csv.gz", "seq,label\nAAAACCCC,0\nGGGGTTTT,1\nACGTACGT,1\n")
    write(folder / "test.csv.gz", "seq,label\nTTTTAAAA,1\nCCCCGGGG,0\n")
    splits = read_benchmark(folder)
    assert splits.dev is not None and splits.dev.source == str(folder / "dev.csv.gz")
    data = prepare_classification(splits.train, splits.test, NucleotideTokenizer(), val=splits.dev)
    assert [len(data.labels[split]) for split in ("train", "val", "test")] == [8, 3, 2]
    assert data.labels["val"].tolist() == [0, 1, 1] and data.sources["val"] == str(folder / "dev.csv.gz")
    assert torch.equal(data.tokens["val"][0], NucleotideTokenizer().encode_batch(["AAAACCCC"], 8).tokens[0])
    write(folder / "dev.csv.gz", "seq,label\nAAAACCCC,0\nGGGGTTTT,2\n")
    stranger = read_benchmark(folder).dev
    with pytest.raises(DataError, match=r"dev\.csv\.gz: line 3: label '2' does not occur in .*train\.csv\.gz"):
        prepare_classification(splits.train, splits.test, NucleotideTokenizer(), val=stranger)


def test_a_test_only_folder_says_how_to_use_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "genomic" / "human_enhancers_cohn"
    folder.mkdir(parents=True)
    write(folder / "test.csv.gz", "seq,label\nACGT,0\nTTTT,1\n")
    assert resolve_benchmark("human_enhancers_cohn", tmp_path / "genomic") == folder
    with pytest.raises(DataError) as raised:
        read_benchmark(folder)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{folder}: no train.csv.gz, only test.csv.gz")
    assert message.endswith(f"--data {folder / 'test.csv.gz'} --test-fraction 0.2")


def test_bundled_demo_is_what_the_generator_writes() -> None:
    for split in ("train", "test"):
        assert gzip.decompress((DEMO_DIR / f"{split}.csv.gz").read_bytes()) == demo_csv(split)


def test_planted_motif_labels_and_motifs() -> None:
    sequences, labels = planted_motif(200, 50, seed=3, motifs=("TATAAA", "GGGCGG"), multiclass=True)
    assert sorted(set(labels)) == [0, 1, 2] and abs(labels.count(0) - labels.count(1)) <= 1
    for sequence, label in zip(sequences, labels):
        assert len(sequence) == 50
        has = [m in sequence or rc in sequence for m, rc in (("TATAAA", "TTTATA"), ("GGGCGG", "CCGCCC"))]
        assert has == [label == 1, label == 2]


def test_validation_split_is_stratified_seeded_and_leaves_test_alone() -> None:
    train, test = labelled(40, n_classes=2), labelled(10, source="t.csv", n_classes=2)
    tokenizer = NucleotideTokenizer()
    first = prepare_classification(train, test, tokenizer, val_fraction=0.25, seed=7)
    again = prepare_classification(train, test, tokenizer, val_fraction=0.25, seed=7)
    other = prepare_classification(train, test, tokenizer, val_fraction=0.25, seed=8)
    assert [len(first.labels[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    assert first.labels["val"].bincount().tolist() == [5, 5]
    assert first.labels["val"].tolist() == again.labels["val"].tolist()
    assert first.labels["test"].tolist() == [i % 2 for i in range(10)]
    assert first.classes == ["0", "1"] and first.length == 30 and other.length == 30
    assert len(first.dataset("train")) == 30


def test_classes_sort_numerically_and_lengths_pad_to_the_longest() -> None:
    train = SequenceSet(["AC", "ACGTA", "A", "AC"] * 5, ["10", "9", "2", "10"] * 5, list(range(2, 22)), None, "a.csv")
    test = SequenceSet(["ACGTACG"], ["2"], [2], None, "b.csv")
    data = prepare_classification(train, test, NucleotideTokenizer(), val_fraction=0.25)
    assert data.classes == ["2", "9", "10"] and data.max_bases == 7
    assert data.mask["test"].sum().item() == 7 and data.tokens["train"].shape[1] == 7


def test_truncate_keeps_the_first_bases() -> None:
    train, test = labelled(20, length=30), labelled(4, length=30, source="t.csv")
    data = prepare_classification(train, test, NucleotideTokenizer(), max_bases=8, truncate=True, val_fraction=0.5)
    assert data.length == 8 and data.mask["test"].all()
    assert data.tokenizer.decode(data.tokens["test"][0]) == "ACGTACGT"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.fa", "", r"^{f}: empty file$"),
        ("blank.csv", "\n  \n", r"^{f}: empty file$"),
        ("header.csv", "seq,label\n", r"^{f}: no sequences, only a header line$"),
        ("nolabel.csv", "seq,kind\nACGT,1\n",
         r"^{f}: label column missing \(looked for label, labels, class, target, y\); columns: seq, kind; "
         r"name it with --label-column$"),
        ("noseq.csv", "dna_x,label\nACGT,1\n",
         r"^{f}: sequence column missing .*; columns: dna_x, label; name it with --sequence-column$"),
        ("bad.csv", "seq,label\nACGT,1\nACXGU!,0\n",
         r"^{f}: line 3: characters outside the DNA alphabet: 'X', 'U', '!' at positions 3, 5, 6 "
         r"\(allowed: A C G T N and IUPAC R Y S W K M B D H V, any case\)$"),
        ("bad.fa", ">ok label=1\nACGT\n>r7 label=0\nACGT\nacgt\nAC-GT\n",
         r"^{f}: line 6, record 'r7': character outside the DNA alphabet: '-' at position 11 \(allowed: .*\)$"),
        ("nolabel.fa", ">r1\nACGT\n", r"^{f}: line 1, record 'r1': no label in the header \(write '>id label=L' or "
         r"'>id\|L', or give a side label file\)$"),
        ("nobody.fa", ">r1 label=1\n>r2 label=0\nAC\n", r"^{f}: line 1, record 'r1': no sequence lines$"),
        ("plain.fa", "ACGT\n>r1 label=1\nAC\n", r"^{f}: line 1: sequence before the first '>' header; is this a FASTA "
         r"file\?$"),
        ("empty_seq.csv", "seq,label\nACGT,1\n,0\n", r"^{f}: line 3: empty sequence in column 'seq'$"),
        ("data.json", "{}", r"^{f}: unknown file type; use FASTA .* or a table .*, optionally gzipped$"),
    ],
)
def test_bad_input_raises_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(DataError, match=message.format(f=str(path).replace("\\", "\\\\"))) as error:
        read_sequences(path)
    assert "\n" not in str(error.value)


def test_side_file_problems(tmp_path: Path) -> None:
    fasta = write(tmp_path / "x.fa", ">a\nACGT\n>b\nCCGG\n")
    side = write(tmp_path / "labels.csv", "id,label\na,1\n")
    with pytest.raises(DataError, match=rf"^{fasta}: line 3, record 'b': no label for this id in {side}$"):
        read_fasta(fasta, side)
    twice = write(tmp_path / "twice.csv", "id,label\na,1\nb,0\na,0\n")
    with pytest.raises(DataError, match=rf"^{twice}: line 4: id 'a' already given on line 2$"):
        read_fasta(fasta, twice)


def test_single_class_test_label_and_too_long_sequences() -> None:
    tokenizer = NucleotideTokenizer()
    one_class = SequenceSet(["ACGT"] * 5, ["1"] * 5, list(range(2, 7)), None, "one.csv")
    with pytest.raises(DataError, match=r"^one.csv: a single class \('1'\) in 5 sequences; classification needs at "
                       r"least two$"):
        prepare_classification(one_class, one_class, tokenizer)
    stranger = SequenceSet(["ACGT", "ACGT"], ["0", "7"], [2, 3], ["s1", "s2"], "t.fa")
    with pytest.raises(DataError, match=r"^t.fa: line 3, record 's2': label '7' does not occur in mem.csv; its "
                       r"classes: 0, 1$"):
        prepare_classification(labelled(), stranger, tokenizer)
    long_test = SequenceSet(["ACGT", "A" * 40, "A" * 50], ["0", "1", "1"], [2, 3, 4], None, "t.csv")
    with pytest.raises(DataError, match=r"^t.csv: line 3: sequence of 40 bases is longer than the maximum 32 "
                       r"\(1 more\); pass --truncate to keep the first 32 bases, or raise --max-length$"):
        prepare_classification(labelled(), long_test, tokenizer, max_bases=32)
    with pytest.raises(DataError, match=r"^lonely.csv: cannot carve a stratified validation split of 0.1: "):
        prepare_classification(
            SequenceSet(["AC"] * 3, ["0", "0", "1"], [2, 3, 4], None, "lonely.csv"), labelled(), tokenizer
        )
