"""Build hook: compile the optional C loops of the per-file scan (protocheck/sources/dicom/_cwalk.c, _walk.c,
_frames.c, _csa.c -> module _cwalk) and the walk's folder listing (protocheck/sources/_clist.c -> module _clist).

The extension is optional: without a C compiler or Python headers, or with PROTOCHECK_PURE_PYTHON=1 set at
build time, the build warns and makes a pure-Python wheel (protocheck then runs its Python loops, with the
same results). setuptools' build_ext does the compiling (the compiler and flags Python was built with).
The wheel gets the module beside the sources; it is also copied in place, into the source tree (what an editable
install imports, and what tests run from a checkout import: `python -m pytest` puts the checkout first).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NAME = "protocheck.sources.dicom._cwalk"
SOURCES = [f"protocheck/sources/dicom/{name}.c" for name in ("_cwalk", "_walk", "_frames", "_csa")]
MODULES = {   # module -> (its C files, the headers they include)
    NAME: (SOURCES, ["protocheck/sources/dicom/_cwalk.h"]),
    "protocheck.sources._clist": (["protocheck/sources/_clist.c"], []),
}


class CompiledWalkHook(BuildHookInterface):
    """Compile _cwalk and _clist into the wheel (or in place for an editable install); never fail the build for
    them."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("PROTOCHECK_PURE_PYTHON", "") not in ("", "0"):
            return
        root = Path(self.root)
        try:
            out = Path(tempfile.mkdtemp(prefix="protocheck-cwalk-"))
            built = _compile(root, out)
        except Exception as exc:  # noqa: BLE001 - any compile failure: a pure-Python wheel
            print(f"protocheck: the optional C extensions {', '.join(MODULES)} were not built ({exc!r}); "
                  "the pure-Python scan and walk are used", file=sys.stderr)
            return
        for path in built:
            _in_place(root, path.relative_to(out), path)
        if version == "editable":
            shutil.rmtree(out, ignore_errors=True)
            return
        self._built = out
        for path in built:
            build_data["force_include"][str(path)] = str(path.relative_to(out)).replace(os.sep, "/")
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        built = getattr(self, "_built", None)
        if built is not None:
            shutil.rmtree(built, ignore_errors=True)


def _in_place(root: Path, rel: Path, built: Path) -> None:
    """Copy a built module into the source tree: an editable install imports the source tree, and so do the tests
    run from a checkout (`python -m pytest` from the repository root puts it first on sys.path) after a regular
    install. A new file renamed over the old one: a running process keeps the module it has loaded."""
    try:
        tmp = (root / rel).with_name(f".{rel.name}.tmp")
        shutil.copyfile(built, tmp)
        os.replace(tmp, root / rel)
    except OSError as exc:   # a read-only source tree: the wheel still has it
        print(f"protocheck: {rel} not copied into the source tree ({exc!r})", file=sys.stderr)


def _compile(root: Path, build_lib: Path) -> list[Path]:
    """Build the extensions with setuptools' build_ext into ``build_lib``; returns the modules' paths."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    strip = ["-s"] if sys.platform.startswith("linux") else []
    exts = [Extension(name, sources, depends=headers, extra_link_args=strip)
            for name, (sources, headers) in MODULES.items()]
    dist = Distribution({"name": "protocheck", "ext_modules": exts, "script_name": "hatch_build.py"})
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
    paths = [build_lib / cmd.get_ext_filename(name) for name in MODULES]
    for path in paths:
        if not path.is_file():
            raise RuntimeError(f"{path} was not made")
    return paths
