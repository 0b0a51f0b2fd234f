"""The encoding of a delimited text file, decided on evidence, before any row is read.

A file is UTF-8 (or UTF-16) only if all of it decodes so: one strict, streamed decode pass over
the whole file, a megabyte at a time, decides it (and counts NUL characters on the way). When
a file is not UTF-8, the lines holding non-ASCII bytes (from the head of the file and from
around the first byte that is not UTF-8, a bounded sample) are the evidence:

- most of their non-ASCII bytes form valid UTF-8 sequences: the file is UTF-8 with a few stray
  bytes (a value pasted from elsewhere). Any code page would decode it, and mangle every
  other name (``Zoë`` as ``ZoÃ«``), so the read stops, naming the line and byte;
- otherwise charset-normalizer ranks the code pages; one is taken only if it decodes the
  sample to letters (a code page that turns names into ``£ukasz ¯ó³æ`` is wrong however the
  detector ranks it), Windows code pages first (the files come from Excel on Windows; cp1252
  on a tie), and then only if it decodes the whole file. The source says which it took.
- no confident answer: the read stops, naming the line and byte, and asks for
  ``source.encoding``. Nothing is ever decoded as cp1252 for want of a better idea.

An encoding given in the mapping is checked over the whole file the same way.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from importer.errors import SourceError

_BLOCK = 1 << 20
#: How much of the file the evidence is taken from: its head, and a window from a little before
#: the first byte that is not UTF-8; of those, at most _EVIDENCE_BYTES of lines are kept.
_HEAD_BYTES = 1 << 20
_WINDOW_BEFORE = 64 << 10
_WINDOW_BYTES = 1 << 20
_EVIDENCE_BYTES = 64 << 10
#: A valid UTF-8 sequence of two to four bytes.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_WINDOWS_CODE_PAGES: tuple[str, ...] = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254")
_WINDOWS_CODE_PAGES += ("cp1257", "cp1255", "cp1256", "cp1258", "cp874", "cp932", "cp936")
_WINDOWS_CODE_PAGES += ("cp949", "cp950")
#: How far in chaos (charset-normalizer's measure of garbled text, 0 to 1) a code page may be
#: from the best and still be considered; and, within that, what counts as a tie.
_CHAOS_RANGE = 0.1
_CHAOS_TIE = 0.02
#: Share of the sample's non-ASCII characters that must decode to letters (or accents,
#: currency signs, dashes and quotes) for a code page to be believed.
_LETTERS = 0.9
_PLAUSIBLE = ("L", "M", "Pd", "Pi", "Pf", "Sc", "Zs")
#: Multi-byte East Asian encodings decode almost any bytes to ideographs: they are believed only
#: when charset-normalizer also recognised a language in the text.
_MIN_COHERENCE = 0.1
_WORD = re.compile(r"[^\W\d_]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_TRY_INSTEAD = (
    "e.g. cp1252 for Western European Windows, cp1251 for Cyrillic, cp1250 for Central European"
)


@dataclass(frozen=True)
class Encoding:
    """How a file is decoded: the codec, how it was chosen, what to tell the user."""

    name: str
    how: str  # for the source's description: "byte-order mark", "detected", "as set", ...
    notes: list[str] = field(default_factory=list)
    nul_count: int = 0
    first_nul_line: int | None = None


@dataclass(frozen=True)
class _Failure:
    offset: int  # of the first byte that does not decode
    line: int
    reason: str


@dataclass(frozen=True)
class _Scan:
    nul_count: int
    first_nul_line: int | None


def decide_encoding(path: Path, given: str = "auto") -> Encoding:
    """The file's encoding, from the mapping (checked) or from the bytes (on evidence).

    Raises SourceError naming the line and byte that do not decode, and what to do."""
    if given.lower() != "auto":
        return _checked(path, given)
    name, how = _from_marks(path)
    scan = _scan(path, name)
    if isinstance(scan, _Scan):
        return _encoding(path, name, how, scan)
    if name not in ("utf-8", "utf-8-sig"):  # a byte-order mark or zero bytes said UTF-16
        raise SourceError(
            f"{path.name}: {_where(path, scan)} cannot be read as {name}, which its "
            f"{'byte-order mark says' if how == 'byte-order mark' else 'zero bytes say'} it is "
            f"({scan.reason}): the file is damaged. Save it again from the "
            f"program that made it, or set source.encoding in the mapping ({_TRY_INSTEAD})"
        )
    evidence = _evidence(path, scan.offset)
    if name == "utf-8-sig" or _mostly_utf8(evidence):
        raise SourceError(
            f"{path.name} is UTF-8 except at {_where(path, scan)}, which is not UTF-8: the file "
            "mixes encodings (a value pasted from another file?), and reading it in any one "
            "code page would garble its other non-ASCII text. Nothing was sent. Fix that value "
            "(retype it, then save the file as CSV UTF-8), or, if the whole file is in one "
            f"code page, set source.encoding in the mapping ({_TRY_INSTEAD})"
        )
    guess = detect_code_page(evidence)
    if guess is None:
        raise SourceError(
            f"{path.name} is not UTF-8 (the first byte that is not: {_where(path, scan)}), and "
            "its encoding cannot be told from its bytes with confidence. Nothing was sent. "
            "Set source.encoding in the mapping to the encoding the file was saved in "
            f"({_TRY_INSTEAD}), or save the file as CSV UTF-8"
        )
    rescan = _scan(path, guess)
    if isinstance(rescan, _Failure):
        raise SourceError(
            f"{path.name} is not UTF-8 (the first byte that is not: {_where(path, scan)}), and "
            f"looks like {guess}, but {_where(path, rescan)} is not {guess} either. Nothing "
            "was sent. Set source.encoding in the mapping to the encoding the file was saved "
            f"in ({_TRY_INSTEAD}), or save the file as CSV UTF-8"
        )
    note = (
        f"{path.name} is not UTF-8: read as {guess}, which charset-normalizer detected. If "
        f"names look wrong in the results, set source.encoding in the mapping ({_TRY_INSTEAD})"
    )
    return _encoding(path, guess, "detected: not UTF-8", rescan, [note])


def _checked(path: Path, given: str) -> Encoding:
    """An encoding set in the mapping: the whole file must decode with it."""
    scan = _scan(path, given)
    if isinstance(scan, _Scan):
        return _encoding(path, given, "as set", scan)
    try:
        instead = decide_encoding(path).name
        advice = f"the file looks like {instead}: set source.encoding: {instead} in the mapping"
    except SourceError:
        advice = f"set source.encoding to the encoding the file was saved in ({_TRY_INSTEAD})"
    raise SourceError(
        f"{path.name}: line {scan.line} cannot be read as {given} ({scan.reason}); {advice}, "
        "or leave it as auto"
    )


def _encoding(
    path: Path, name: str, how: str, scan: _Scan, notes: list[str] | None = None
) -> Encoding:
    notes = list(notes or [])
    if scan.nul_count:
        notes.append(nul_note(path.name, scan.nul_count, scan.first_nul_line))
    return Encoding(name, how, notes, scan.nul_count, scan.first_nul_line)


def nul_note(name: str, count: int, first_line: int | None) -> str:
    """What is said, once, about the NUL characters removed from a file."""
    noun = "NUL character" if count == 1 else "NUL characters"
    return (
        f"{name}: {count:,} {noun} (the first on line {first_line}) removed: they are not "
        "text, and LeadSquared would store them as part of the values"
    )


def _from_marks(path: Path) -> tuple[str, str]:
    """The encoding a byte-order mark or UTF-16's zero bytes announce; else UTF-8 to try."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "byte-order mark"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "byte-order mark"
    if len(head) >= 4:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return "utf-16-le", "detected"
        if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return "utf-16-be", "detected"
    return "utf-8", "detected"


def _scan(path: Path, encoding: str) -> _Scan | _Failure:
    """Decode the whole file strictly, a block at a time; count NUL characters on the way."""
    offset = lines = nuls = 0
    first_nul: int | None = None
    with open(path, "rb") as handle:
        encoding, offset = _past_mark(handle, encoding)  # offsets count from the file's start
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        while True:
            block = handle.read(_BLOCK)
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                done = (pending + block)[:start].decode(encoding, errors="replace")
                return _Failure(
                    offset - len(pending) + start, lines + done.count("\n") + 1, exc.reason
                )
            except UnicodeError as exc:  # utf-16 without a byte-order mark, and the like
                return _Failure(offset, lines + 1, str(exc))
            if "\x00" in text:
                if first_nul is None:
                    first_nul = lines + text[: text.index("\x00")].count("\n") + 1
                nuls += text.count("\x00")
            lines += text.count("\n")
            if not block:
                return _Scan(nuls, first_nul)
            offset += len(block)


def _past_mark(handle: BinaryIO, encoding: str) -> tuple[str, int]:
    """Skip the byte-order mark ``encoding`` expects; the decoder to use after it and the
    offset reached."""
    name = codecs.lookup(encoding).name
    head = handle.read(3)
    if name == "utf-8-sig" and head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if name == "utf-16" and head.startswith(codecs.BOM_UTF16_LE):
        handle.seek(2)
        return "utf-16-le", 2
    if name == "utf-16" and head.startswith(codecs.BOM_UTF16_BE):
        handle.seek(2)
        return "utf-16-be", 2
    handle.seek(0)
    return encoding, 0


def _where(path: Path, failure: _Failure) -> str:
    """``line 3, byte 41 (0xE9 in 'b@x.com,Ren\\xe9')``: where the first bad byte is."""
    with open(path, "rb") as handle:
        start = max(failure.offset - 60, 0)
        handle.seek(start)
        around = handle.read(failure.offset - start + 40)
    if failure.offset >= len(around) + start:
        return f"line {failure.line:,}, byte {failure.offset:,}"
    bad = around[failure.offset - start]
    before = around[: failure.offset - start].rsplit(b"\n", 1)[-1]
    after = around[failure.offset - start :].split(b"\n", 1)[0].rstrip(b"\r")
    shown = (before + after).decode("utf-8", errors="backslashreplace")
    return f"line {failure.line:,}, byte {failure.offset:,} (0x{bad:02X} in '{shown}')"


def _evidence(path: Path, bad_offset: int) -> bytes:
    """The lines holding non-ASCII bytes, from the file's head and around ``bad_offset``."""
    with open(path, "rb") as handle:
        regions = [handle.read(_HEAD_BYTES)]
        window = max(bad_offset - _WINDOW_BEFORE, 0)
        if window + _WINDOW_BYTES > _HEAD_BYTES:
            handle.seek(max(window, _HEAD_BYTES))
            regions.append(handle.read(_WINDOW_BYTES))
    kept: list[bytes] = []
    size = 0
    for region in regions:
        for line in region.split(b"\n"):
            if not line.isascii():
                kept.append(line.replace(b"\x00", b""))  # NULs are removed from the text too
                size += len(line) + 1
                if size >= _EVIDENCE_BYTES:
                    return b"\n".join(kept)
    return b"\n".join(kept)


def _mostly_utf8(evidence: bytes) -> bool:
    """True if most non-ASCII bytes of ``evidence`` form valid UTF-8 sequences."""
    high = sum(1 for byte in evidence if byte >= 0x80)
    valid = sum(len(m) for m in _UTF8_SEQUENCE.findall(evidence))
    return high > 0 and valid * 2 >= high


def detect_code_page(evidence: bytes) -> str | None:
    """The code page charset-normalizer is confident of for ``evidence``, or None."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(evidence))
    if not matches:
        return None
    best = min(m.chaos for m in matches)
    passing: list[tuple[str, float]] = []  # in the detector's order
    for match in matches:
        if match.chaos > best + _CHAOS_RANGE:
            continue
        for name in match.could_be_from_charset:
            name = codecs.lookup(name).name
            if name in ("utf-8", "ascii") or any(n == name for n, _ in passing):
                continue
            multibyte = not _single_byte(name)
            if multibyte and match.coherence < _MIN_COHERENCE:
                continue
            if _letters(evidence, name) >= _LETTERS:
                passing.append((name, match.chaos))
    if not any(name in _WINDOWS_CODE_PAGES for name, _ in passing):
        # the files come from Excel on Windows: a Windows code page the detector ranked low
        # (it favours ISO code pages on short samples) is believed if it reads as text
        for name in _WINDOWS_CODE_PAGES:
            if name.startswith("cp125") and _letters(evidence, name) >= _LETTERS:
                return name
    if not passing:
        return None
    least = min(chaos for _, chaos in passing)
    tied = [name for name, chaos in passing if chaos <= least + _CHAOS_TIE]
    windows = [name for name, _ in passing if name in _WINDOWS_CODE_PAGES]
    if "cp1252" in tied:
        return "cp1252"
    for name in tied:
        if name in _WINDOWS_CODE_PAGES:
            return name
    return windows[0] if windows else tied[0]


def _single_byte(name: str) -> bool:
    try:
        return len(bytes(range(256)).decode(name, errors="replace")) == 256
    except LookupError:
        return False


def _letters(evidence: bytes, name: str) -> float:
    """The share of the non-ASCII characters ``evidence`` decodes to that text plausibly holds;
    0 for words of Latin letters mostly accented (Cyrillic read in a Latin code page: ``Èâàí``
    for ``Иван``), which no language writes."""
    try:
        text = evidence.decode(name)
    except (UnicodeDecodeError, LookupError):
        return 0.0
    found = Counter(_NON_ASCII.findall(text))
    if not found:
        return 0.0
    plausible = sum(n for c, n in found.items() if unicodedata.category(c).startswith(_PLAUSIBLE))
    words = "".join(w for w in _WORD.findall(text) if len(w) > 1 and not w.isascii())
    accented = sum(n for c, n in Counter(words).items() if c >= "\x80" and _latin(c))
    if words and accented * 2 > len(words):
        return 0.0
    return plausible / found.total()


def _latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")
