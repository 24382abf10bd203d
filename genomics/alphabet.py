"""The DNA alphabet: the four bases and N, the IUPAC ambiguity codes read as N, and the reverse complement."""

from __future__ import annotations

import re

BASES = "ACGTN"
AMBIGUOUS = "RYSWKMBDHV"  # IUPAC two-, three-base codes; each is read as N
ALLOWED = BASES + AMBIGUOUS  # upper case; input of any case is accepted
_INVALID = re.compile(f"[^{ALLOWED}{ALLOWED.lower()}]")
_AMBIGUOUS = re.compile(f"[{AMBIGUOUS}{AMBIGUOUS.lower()}]")
_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")


def invalid_characters(text: str) -> list[tuple[int, str]]:
    """(0-based position, character) of every character of ``text`` outside ``ALLOWED`` (any case)."""
    return [(match.start(), match.group()) for match in _INVALID.finditer(text)]


def count_ambiguous(text: str) -> int:
    """How many IUPAC ambiguity codes (R Y S W K M B D H V, any case) ``text`` holds."""
    return len(_AMBIGUOUS.findall(text))


def reverse_complement(sequence: str) -> str:
    """The reverse complement, case and IUPAC codes kept (R↔Y, K↔M, B↔V, D↔H; S, W and N are their own)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def describe_invalid(found: list[tuple[int, str]], limit: int = 5) -> str:
    """``found`` (from ``invalid_characters``, non-empty) as one phrase: which characters, at which 1-based positions
    (the first ``limit``), and what is allowed."""
    characters = ", ".join(repr(c) for c in dict.fromkeys(c for _, c in found))
    positions = ", ".join(str(p + 1) for p, _ in found[:limit])
    more = f" (+{len(found) - limit} more)" if len(found) > limit else ""
    plural = "s" if len(found) > 1 else ""
    return (
        f"character{plural} outside the DNA alphabet: {characters} at position{plural} {positions}{more} "
        f"(allowed: {' '.join(BASES)} and IUPAC {' '.join(AMBIGUOUS)}, any case)"
    )
