"""The text of a delimited file as Arrow's CSV reader reads it: UTF-8 bytes, decoded from the
file's encoding a block at a time, NUL characters removed; and the same for Python's ``csv``
module, a line at a time.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

_BLOCK = 1 << 20


def without_nul(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "")


class _Utf8Stream(io.RawIOBase):
    """The file as UTF-8 bytes for Arrow, decoded a block at a time, NUL characters removed."""

    def __init__(self, path: Path, encoding: str, strip_nul: bool) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed with the stream
        self._utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._strip_nul = strip_nul
        self._buffer = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._ended:
            block = self._raw.read(_BLOCK)
            self._ended = not block
            if self._utf8:
                data = block
            else:
                data = self._decoder.decode(block, final=self._ended).encode("utf-8")
            self._buffer = data.replace(b"\x00", b"") if self._strip_nul else data
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def utf8_stream(path: Path, encoding: str, strip_nul: bool) -> BinaryIO:
    """What Arrow reads: the file itself when it is UTF-8 with nothing to remove (the fast,
    usual case), else the file decoded to UTF-8 a block at a time."""
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") and not strip_nul:
        return open(path, "rb")
    return io.BufferedReader(_Utf8Stream(path, encoding, strip_nul), _BLOCK)
