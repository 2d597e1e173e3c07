"""SOP instance hashes (duplicate detection) are the same in every process: stored summaries merge right."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


def test_a_recheck_in_another_process_finds_a_duplicate_of_a_stored_block(dicom_root, tmp_path):
    """SOP instance hashes in stored summaries are the same in every process (not str hash)."""
    tree = tmp_path / "in"
    src = dicom_root / "dcm_qa_ge" / "04_Ax_DWI_TENSOR_R2MB2"
    shutil.copytree(src, tree / "a")
    code = ("import sys; from pathlib import Path; from protocheck.sources.dicom import scan_dicom; "
            "from protocheck.sources.options import ScanOptions; "
            "r = scan_dicom(sys.argv[1], ScanOptions(workers=1, cache_dir=Path(sys.argv[2]))); "
            "print(sorted(s.kind for s in r.skipped))")

    def run(seed: str) -> str:
        return subprocess.run([sys.executable, "-c", code, str(tree), str(tmp_path / "cache")], check=True,
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
    assert run("1").strip() == "[]"
    (tree / "b").mkdir()
    shutil.copy2(sorted((tree / "a").iterdir())[0], tree / "b" / "copy.dcm")
    assert run("2").strip() == "['duplicate']"
