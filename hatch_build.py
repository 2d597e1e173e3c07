"""Build hook: compile the optional C loops of the per-file scan (protocheck/sources/dicom/_walk.c -> _cwalk).

The extension is optional: without a C compiler or Python headers, or with PROTOCHECK_PURE_PYTHON=1 set at
build time, the build warns and makes a pure-Python wheel (protocheck then runs its Python loops, with the
same results). setuptools' build_ext does the compiling (the compiler and flags Python was built with).
A regular wheel gets the module beside the sources; an editable install builds it in place, in the source tree.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NAME = "protocheck.sources.dicom._cwalk"
SOURCE = "protocheck/sources/dicom/_walk.c"


class CompiledWalkHook(BuildHookInterface):
    """Compile _cwalk into the wheel (or in place for an editable install); never fail the build for it."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("PROTOCHECK_PURE_PYTHON", "") not in ("", "0"):
            return
        root = Path(self.root)
        try:
            if version == "editable":
                _compile(root, root)
                return   # the package is imported from the source tree: the module sits beside _walk.c
            out = Path(tempfile.mkdtemp(prefix="protocheck-cwalk-"))
            built = _compile(root, out)
        except Exception as exc:  # noqa: BLE001 - any compile failure: a pure-Python wheel
            print(f"protocheck: the optional C extension {NAME} was not built ({exc!r}); "
                  "the pure-Python scan is used", file=sys.stderr)
            return
        build_data["force_include"][str(built)] = str(built.relative_to(out)).replace(os.sep, "/")
        build_data["pure_python"] = False
        build_data["infer_tag"] = True


def _compile(root: Path, build_lib: Path) -> Path:
    """Build the extension with setuptools' build_ext into ``build_lib``; returns the module's path."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    strip = ["-s"] if sys.platform.startswith("linux") else []
    ext = Extension(NAME, [SOURCE], extra_link_args=strip)
    dist = Distribution({"name": "protocheck", "ext_modules": [ext], "script_name": "hatch_build.py"})
    cmd = build_ext(dist)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with tempfile.TemporaryDirectory(prefix="protocheck-cwalk-tmp-") as tmp:
            cmd.build_lib, cmd.build_temp = str(build_lib), tmp
            cmd.ensure_finalized()
            cmd.run()
    finally:
        os.chdir(cwd)
    path = build_lib / cmd.get_ext_filename(NAME)
    if not path.is_file():
        raise RuntimeError(f"{path} was not made")
    return path
