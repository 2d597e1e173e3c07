"""Build ``sample_headers/exam/`` from real header-only DICOM files in ``../shared/data/dicom``.

The demo exam is one GE SIGNA Pioneer 3T session from neurolabusc/dcm_qa_ge (BSD 2-Clause) plus the GE
3-plane localizer of neurolabusc/dcm_qa_table (BSD 2-Clause). Changes: patient name/ID replaced by demo
values, the localizer's Study/Patient attributes aligned with the session so the files form one exam.
Nothing else is changed. Run from the repository root: ``python scripts/make_sample_headers.py``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pydicom

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "dicom"
OUT = REPO / "sample_headers" / "exam"
SERIES = {
    "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22": "05_3D_T1",
    "dcm_qa_ge/01_Ax_DWI_TENSOR_R2": "01_DWI",
    "dcm_qa_table/GE/Exam1486_Laser794mm/01_3_Plane_Localizer_FF": "00_Localizer",
}
DEMO = {"PatientName": "DEMO^PARTICIPANT", "PatientID": "ALS-DEMO-017"}


def main() -> int:
    if not SHARED.is_dir():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    if OUT.exists():
        shutil.rmtree(OUT)
    study = None
    for src, dst in SERIES.items():
        (OUT / dst).mkdir(parents=True)
        for i, f in enumerate(sorted((SHARED / src).iterdir())):
            ds = pydicom.dcmread(f)
            study = study or ds
            for key, value in DEMO.items():
                setattr(ds, key, value)
            for key in ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber"):
                if key in study:
                    setattr(ds, key, study.data_element(key).value)
            ds.save_as(OUT / dst / f"IM{i + 1:04d}", enforce_file_format=False)
    print(f"wrote {sum(1 for _ in OUT.rglob('IM*'))} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
