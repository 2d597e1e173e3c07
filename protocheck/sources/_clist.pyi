"""Compiled folder listing of the walk (protocheck/sources/_clist.c)."""
from typing import Any

VERSION: int

def list_folder(path: str, ignored: tuple[bytes, ...], use_types: bool = ...,
                pack: bool = ...) -> tuple[Any, ...] | None: ...
