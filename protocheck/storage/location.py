"""Where the cache folder is: the user's default, and never inside the input tree (protocheck never writes into
its input)."""
from __future__ import annotations

import os
from pathlib import Path

from protocheck.errors import SourceError
from protocheck.storage.sealing import check_folder


def default_cache_dir() -> Path:
    """The user cache folder: $XDG_CACHE_HOME/protocheck when set (on every platform), else the platform's
    (~/.cache/protocheck, ~/Library/Caches/protocheck, %LOCALAPPDATA%\\protocheck\\Cache)."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "protocheck"
    import platformdirs
    return Path(platformdirs.user_cache_dir("protocheck", appauthor=False))


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def check_cache_location(cache_dir: Path, root: str | os.PathLike[str]) -> Path:
    """The resolved cache folder; SourceError when it lies inside the input tree (the input is never written)."""
    cache = Path(cache_dir).expanduser().resolve()
    top = Path(root).resolve()
    top = top if top.is_dir() else top.parent
    if _inside(cache, top):
        raise SourceError("the cache folder is inside the input tree, and protocheck never writes into its input",
                          path=str(cache), where="--cache-dir",
                          fix=f"choose a cache folder outside {top} (default: {default_cache_dir()})")
    check_folder(cache)
    return cache
