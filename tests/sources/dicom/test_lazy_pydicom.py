"""The command line imports pydicom with the modules it never needs loaded on first use only (start-up)."""
from __future__ import annotations

import subprocess
import sys

CODE = """\
import sys, protocheck
protocheck.LEAN_PYDICOM = {lean}
from protocheck.sources.dicom import _pydicom, reader
lazy = sorted(n for n in _pydicom.LAZY if type(sys.modules.get(n)).__name__ == "_LazyModule")
print(",".join(lazy) or "-", "http.client" in sys.modules)
rec = reader.read_record("f", {path!r})
assert rec.skip is None and rec.series_uid, rec
import uuid, urllib.request, pydicom, pydicom.uid
assert pydicom.uid.generate_uid(prefix=None).startswith("2.25.")   # uuid, loaded now
assert urllib.request.Request("http://localhost/").full_url == "http://localhost/"
assert pydicom.examples.ct.Modality == "CT"   # pydicom's example datasets, found and read
print(sorted(n for n in _pydicom.LAZY if type(sys.modules.get(n)).__name__ == "_LazyModule") == [])
"""


def test_the_command_loads_what_pydicom_never_needs_on_first_use(dicom_root):
    probe = sorted((dicom_root / "dcm_qa_ge").rglob("*"))
    path = str(next(p for p in probe if p.is_file() and p.stat().st_size > 1000))
    lean = subprocess.run([sys.executable, "-c", CODE.format(lean=True, path=path)], capture_output=True, text=True)
    assert lean.returncode == 0, lean.stderr
    assert lean.stdout.split() == ["pydicom.examples,urllib.request,uuid", "False", "True"]
    whole = subprocess.run([sys.executable, "-c", CODE.format(lean=False, path=path)], capture_output=True,
                           text=True)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.split() == ["-", "True", "True"]   # a library user's pydicom: imported as it comes


VERSION = """\
import sys, protocheck
protocheck.LEAN_PYDICOM = {lean}
from protocheck.sources.dicom import reader
import pydicom
print("importlib.metadata" in sys.modules, pydicom.__version__, ".".join(pydicom.__version_info__))
import importlib.metadata
assert pydicom.__version__ == importlib.metadata.version("pydicom")   # the real one, importable again
"""


def test_pydicoms_version_is_read_without_importlib_metadata_and_is_the_same():
    lean = subprocess.run([sys.executable, "-c", VERSION.format(lean=True)], capture_output=True, text=True)
    assert lean.returncode == 0, lean.stderr
    whole = subprocess.run([sys.executable, "-c", VERSION.format(lean=False)], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    assert lean.stdout.split()[0] == "False" and whole.stdout.split()[0] == "True"
    assert lean.stdout.split()[1:] == whole.stdout.split()[1:]


def test_the_stand_in_hands_anything_else_to_the_real_module(monkeypatch):
    from protocheck.sources.dicom import _pydicom
    stub = _pydicom._Metadata("9.9.9")
    monkeypatch.setitem(sys.modules, "importlib.metadata", stub)
    assert stub.version("pydicom") == "9.9.9"
    assert stub.version("pytest") == __import__("pytest").__version__
    assert sys.modules["importlib.metadata"] is not stub   # replaced by the real module on first other use
