"""Compiled folder listing of the walk (protocheck/sources/_clist.c)."""

VERSION: int

def list_folder(path: str, ignored: tuple[bytes, ...], use_types: bool = ...) -> tuple[list[tuple[str, int, int]], list[str]] | None: ...
