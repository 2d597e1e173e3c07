"""Options every source shares (privacy, sites, cache, limits, progress, network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class ArchiveLimits:
    """Safety limits for reading .zip/.tar exports in place."""

    max_members: int = 200_000
    max_member_size: int = 512 * 1024 * 1024      # bytes, uncompressed
    max_total_size: int = 16 * 1024 ** 3           # bytes, uncompressed
    max_ratio: float = 200.0                       # uncompressed / compressed per member


@dataclass
class NetworkOptions:
    """How a network source (DICOMweb) is reached and what it is asked for."""

    study: str | None = None                # one StudyInstanceUID
    since: str | None = None                # every study since this date (YYYYMMDD)
    auth_file: Path | None = None           # credentials file (never credentials on the command line)
    ca_bundle: Path | None = None           # CA bundle (PEM) to verify the server's TLS with
    insecure: bool = False                  # do not verify TLS certificates (testing only)
    timeout: float = 30.0                   # seconds to wait for each answer
    concurrency: int = 4                    # series metadata requests at once (threads), 1-64


@dataclass
class ScanOptions:
    """What a source needs to know besides the path."""

    include_identifiers: bool = False       # --include-identifiers: keep PatientID etc. (opt-in)
    pseudonym_key: str | None = None        # key for keyed-hash subject pseudonyms
    site_column: str | None = None          # participants.tsv column naming the site
    site_map: Path | None = None            # file of "pattern<TAB>site" lines
    site_from: str | None = None            # header field for the site: InstitutionName / StationName / ...
    cache_dir: Path | None = None           # incremental index (never inside the input tree)
    workers: int = 1                        # reader processes
    full_read: bool = False                 # read every file's full header (reference path for tests)
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    progress: Callable[[int, int, str], None] | None = None   # (files done, series seen, current path)
    network: NetworkOptions | None = None   # network sources (DICOMweb URLs); None: their defaults
