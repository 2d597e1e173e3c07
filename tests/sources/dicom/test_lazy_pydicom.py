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
