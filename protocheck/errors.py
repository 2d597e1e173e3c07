"""One exception hierarchy for protocheck.

Every message names the file, the place in it and the fix, so a user can act without reading code.
The CLI maps any ``ProtocheckError`` to exit code 2 ("the tool could not do its job") and prints only
the message, never a traceback.
"""

from __future__ import annotations


class ProtocheckError(Exception):
    """Base of every error protocheck raises on purpose."""

    def __init__(self, message: str, *, path: str | None = None, where: str | None = None,
                 fix: str | None = None) -> None:
        self.path = path
        self.where = where
        self.fix = fix
        self.reason = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        head = ""
        if self.path:
            head = f"{self.path}"
            if self.where:
                head += f", {self.where}"
            head += ": "
        text = head + self.reason
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class InputError(ProtocheckError):
    """The path given does not exist, is empty, or is no kind of input protocheck reads."""


class NoExamError(InputError):
    """An input holds no MR exam (a dataset of EEG only, a derivative dataset): fatal alone; among several inputs,
    that input is listed as not used and the others are read."""


class ProtocolError(ProtocheckError):
    """A protocol file is malformed, fails its schema, or names an unknown built-in protocol."""


class SourceError(ProtocheckError):
    """A data source (DICOM tree, BIDS dataset, archive, summary) cannot be read as a whole."""


class ArchiveError(SourceError):
    """A .zip/.tar archive is unreadable or exceeds the safety limits (member count, size, ratio)."""


class NetworkError(ProtocheckError):
    """A DICOM node or DICOMweb server could not be reached or answered wrongly."""


class ReportError(ProtocheckError):
    """A report could not be written (output path not writable, output inside the input tree)."""
