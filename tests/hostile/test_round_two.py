"""Hostile input, round two (issue 17): deflate bombs, merged sites, damaged identifiers, absurd values.

Every test builds its input in tmp_path from real headers and fails on the code before the fix."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest

import bombs
import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore")

BOMB = 256 * 1024 * 1024      # inflated size of the test bombs (the cap is 64 MiB)


def _exam_copy(tmp_path: Path, files: list[Path]) -> Path:
    """``tmp_path/exam`` holding copies of ``files``."""
    root = tmp_path / "exam"
    root.mkdir()
    for f in files:
        shutil.copyfile(f, root / f.name)
    return root


def _skip_of(result, name: str):
    return next((s for s in result.skipped if s.path.replace("\\", "/").endswith(name)), None)


def test_deflate_bomb_in_a_folder_is_skipped_with_reason(scan, case_dir, good_files, good_uid):
    bombs.deflate_bomb(good_files[0], case_dir / "bomb" / "bomb.dcm", BOMB)
    result = scan(case_dir)
    s = _skip_of(result, "bomb.dcm")
    assert s is not None and s.kind == "limit" and "deflate" in s.reason
    acq = next(a for a in result.acquisitions() if a.key == good_uid)
    assert acq.n_files == 11


def test_small_deflated_file_is_still_read(scan, tmp_path, other_files, other_uid):
    bombs.deflate_bomb(other_files[0], tmp_path / "d" / "small.dcm", 16)
    result = scan(tmp_path / "d")
    assert [a.key for a in result.acquisitions()] == [other_uid]
    assert result.skipped == []


def test_deflate_bomb_inside_a_zip_is_skipped(tmp_path, good_files):
    from protocheck.sources import scan

    bomb = bombs.deflate_bomb(good_files[0], tmp_path / "bomb.dcm", BOMB)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:   # stored: no archive ratio to trip
        zf.write(bomb, "exam/bomb.dcm")
        for f in good_files:
            zf.write(f, f"exam/{f.name}")
    result = scan([archive])
    s = _skip_of(result, "bomb.dcm")
    assert s is not None and s.kind == "limit", [x.reason for x in result.skipped]
    assert sum(a.n_files for a in result.acquisitions()) == 11


SIDECAR = ('{"Manufacturer": "Siemens", "MagneticFieldStrength": 3, "RepetitionTime": 2.3, '
           '"EchoTime": 0.003, "MRAcquisitionType": "3D"}')


def _bids(root: Path, site: str | None) -> Path:
    (root / "sub-01" / "anat").mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.8.0"}')
    if site:
        (root / "participants.tsv").write_text(f"participant_id\tsite\nsub-01\t{site}\n")
    (root / "sub-01" / "anat" / "sub-01_T1w.json").write_text(SIDECAR)
    (root / "sub-01" / "anat" / "sub-01_T1w.nii.gz").write_bytes(b"")   # an image (as in a clone without content)
    return root


def _audit_json(cli, *paths) -> dict:
    import json
    rc, out, err = cli("audit", *paths, "--format", "json")
    assert rc in (0, 1), err
    return json.loads(out)


@pytest.mark.parametrize("named", [True, False])
def test_two_sites_bids_datasets_are_not_merged(cli, tmp_path, named):
    a = _bids(tmp_path / "A", "siteA" if named else None)
    b = _bids(tmp_path / "B", "siteB" if named else None)
    data = _audit_json(cli, a, b)
    assert len(data["sessions"]) == 2
    if named:
        assert data["sites"] == ["siteA", "siteB"]


def test_two_sites_summaries_are_not_merged(cli, tmp_path):
    out = tmp_path / "out"
    for site in ("A", "B"):
        root = _bids(tmp_path / site, None)
        rc, _, err = cli("check", root, "--site", f"site{site}", "--format", "json", "-o", out / f"{site}.json",
                         "--summary", out / f"summary_site{site}.json")
        assert rc in (0, 1), err
    data = _audit_json(cli, out / "summary_siteA.json", out / "summary_siteB.json")
    assert data["sites"] == ["siteA", "siteB"] and len(data["sessions"]) == 2


def test_summary_claiming_another_sites_name_is_a_warning(cli, tmp_path, caplog):
    out = tmp_path / "out"
    for site, claim in (("A", "siteA"), ("B", "siteA")):        # site B's summary claims site A's name
        root = _bids(tmp_path / site, None)
        rc, _, err = cli("check", root, "--site", claim, "--format", "json", "-o", out / f"{site}.json",
                         "--summary", out / f"summary_site{site}.json")
        assert rc in (0, 1), err
    from protocheck.sources import scan
    from protocheck.sources.sites import check_site_claims
    warnings = check_site_claims(scan([out / "summary_siteA.json", out / "summary_siteB.json"]))
    assert any("2 summaries claim site 'siteA'" in w for w in warnings), warnings


def _with_bad_patient_id(src: Path, dest: Path, vr: bytes = b"FD") -> Path:
    """A copy of ``src`` whose PatientID is 'CANARYPID99X' under a wrong VR (FD: 12 bytes is no double)."""
    import io
    ds = pydicom.dcmread(src)
    ds.PatientID = "CANARYPID99X"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    raw = bytearray(buf.getvalue())
    i = raw.index(b"CANARYPID99X")
    raw[i - 4:i - 2] = vr
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(raw))
    return dest


def test_patient_id_with_a_wrong_vr_skips_the_file_without_its_value(cli, case_dir, other_files):
    for f in other_files[:2]:
        _with_bad_patient_id(f, case_dir / "badpid" / f.name)
    rc, out, err = cli("check", case_dir, "--format", "json")
    assert rc in (0, 1), err
    assert "CANARYPID99X" not in out + err
    assert out.count("damaged identifying element PatientID") == 2


def test_site_unknown_note_quotes_no_study_uid(cli, case_dir, good_files, tmp_path):
    study = str(pydicom.dcmread(good_files[0], stop_before_pixels=True).StudyInstanceUID)
    out = tmp_path / "out"
    texts = []
    for extra in ((), ("--site", "siteA")):
        for fmt in ("json", "html", "console"):
            rc, stdout, err = cli("check", case_dir, "--format", fmt, "-o", out / f"r{len(extra)}.{fmt}",
                                  "--summary", out / f"s{len(extra)}{fmt}.json", *extra)
            assert rc in (0, 1), err
            texts.append(stdout + err)
    texts += [p.read_text(encoding="utf-8") for p in out.iterdir()]
    assert not [t for t in texts if study in t]
    assert any("site unknown for exam " in t for t in texts)
    assert not any("site unknown" in p.read_text() for p in out.glob("*1.*"))


LONG = "t1" * 32768      # 64 KB: "t1.*(3d|sag)" backtracks quadratically on it (45-60 s before the fix)


def test_long_series_description_is_cut_to_its_vr_maximum(scan, tmp_path, good_files):
    ds = pydicom.dcmread(good_files[0])
    ds.SeriesDescription = LONG
    ds.ImageComments = "x" * 20000          # LT: cut to 10240 (never reported, but bounded too)
    corpus.save(ds, tmp_path / "long" / "a.dcm")
    result = scan(tmp_path / "long")
    acq = next(iter(result.acquisitions()))
    assert acq.get("SeriesDescription") == LONG[:64] and len(acq.description) <= 64


def test_long_sidecar_string_is_cut_like_the_dicom_value(tmp_path):
    import json
    from protocheck.sources import scan
    root = _bids(tmp_path / "A", None)
    side = root / "sub-01" / "anat" / "sub-01_T1w.json"
    side.write_text(json.dumps({**json.loads(SIDECAR), "SeriesDescription": LONG, "ProtocolName": LONG}))
    acq = next(iter(scan([root]).acquisitions()))
    assert acq.get("SeriesDescription") == LONG[:64] and acq.get("ProtocolName") == LONG[:64]


def test_check_with_long_descriptions_finishes(cli, tmp_path, good_files):
    ds = pydicom.dcmread(good_files[0])
    ds.SeriesDescription = LONG
    ds.ProtocolName = LONG
    corpus.save(ds, tmp_path / "long" / "a.dcm")
    rc, out, err = cli("check", tmp_path / "long", "--format", "json")
    assert rc in (0, 1), err


class _Planted:
    """A pickle that creates a folder when loaded (what a planted cache entry could do with a command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.mkdir, (str(self.marker),))


def test_planted_protocol_pickle_is_never_loaded(tmp_path):
    import pickle
    from protocheck.protocol import cache
    from protocheck.protocol.loader import builtin_protocol_dir, load_protocol
    path = builtin_protocol_dir() / "als-brain-3t.yaml"
    folder = tmp_path / "cache"
    folder.mkdir()
    marker = tmp_path / "PWNED"
    text = path.read_text(encoding="utf-8")
    cache._file(folder, text, str(path)).write_bytes(pickle.dumps(_Planted(marker)))
    protocol = cache.load(folder, text, str(path))
    assert not marker.exists() and protocol is None
    assert load_protocol(str(path), folder).name == "als-brain-3t"


def test_planted_snapshot_pickle_is_never_loaded(tmp_path, good_files):
    import pickle
    import sqlite3
    import zlib
    from protocheck.sources import scan as scan_inputs
    from protocheck.sources.options import ScanOptions
    root = _exam_copy(tmp_path, good_files)
    folder = tmp_path / "cache"
    first = scan_inputs([root], ScanOptions(cache_dir=folder))
    marker = tmp_path / "PWNED"
    evil = zlib.compress(pickle.dumps(_Planted(marker)))
    for db_path in folder.glob("index-*.sqlite"):
        db = sqlite3.connect(db_path)
        with db:
            db.execute("UPDATE snapshots SET data=?", (evil,))
            db.execute("UPDATE folders SET data=?", (evil,))
        db.close()
    again = scan_inputs([root], ScanOptions(cache_dir=folder))
    assert not marker.exists()
    assert [a.key for a in again.acquisitions()] == [a.key for a in first.acquisitions()]


def test_cache_folder_writable_by_others_is_refused(cli, tmp_path, good_files):
    import os
    root = _exam_copy(tmp_path, good_files[:1])
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    os.chmod(folder, 0o777)
    rc, out, err = cli("check", root, "--cache", folder)
    assert rc == 2 and "written by other users" in err
    assert list(folder.iterdir()) == []


def _alias_bomb(levels: int) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnop"
    for prev, name in zip(names, names[1:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_with_its_line(cli, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(6))       # 9^6 leaves when walked (the probe's 9 levels took 2.2 GB)
    rc, out, err = cli("protocols", path)
    assert rc == 2 and "alias bomb" in err and "line 2" in err


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_deeply_nested_protocol_is_refused(cli, tmp_path, name):
    path = tmp_path / name
    path.write_text("[" * 100_000 + "]" * 100_000 if name.endswith(".json") else "a:\n" + "- " * 5000 + "x\n")
    rc, out, err = cli("protocols", path)
    assert rc == 2 and "internal error" not in err and str(path) in err


def _summary(cli, tmp_path) -> Path:
    root = _bids(tmp_path / "A", None)
    out = tmp_path / "summary.json"
    rc, _, err = cli("check", root, "--site", "siteA", "--format", "json", "-o", tmp_path / "r.json",
                     "--summary", out)
    assert rc in (0, 1), err
    return out


@pytest.mark.parametrize("damage", ["month13", "bigint", "deep"])
def test_absurd_summary_names_file_and_place(cli, tmp_path, damage):
    import json
    path = _summary(cli, tmp_path)
    doc = json.loads(path.read_text())
    text = None
    if damage == "month13":
        doc["exams"][0]["month"] = "2024-13"
    elif damage == "bigint":
        text = json.dumps(doc).replace('"n_files_seen": ', '"n_files_seen": ' + "9" * 5000 + ", \"x_\": ", 1)
    else:
        doc["exams"][0]["acquisitions"][0]["params"]["EchoTime"]["value"] = "DEEP"
        text = json.dumps(doc).replace('"DEEP"', "[" * 100_000 + "]" * 100_000)
    path.write_text(text or json.dumps(doc))
    rc, out, err = cli("audit", path, "--format", "json")
    assert rc == 2 and "internal error" not in err, err
    assert str(path) in err
    if damage == "month13":
        assert "/exams/0" in err


ESC = "\x1b[2J\x1b[32mCOMPLIANT\x1b]0;pwn\x07\x9b31m"


def test_escape_sequences_from_headers_never_reach_the_terminal(cli, tmp_path, good_files):
    root = tmp_path / "exam"
    for f in good_files[:3]:
        ds = pydicom.dcmread(f)
        ds.SeriesDescription = "T2" + ESC[:20]
        ds.InstitutionName = "Hosp" + ESC[20:]
        corpus.save(ds, root / f.name)
    texts = []
    for fmt in ("console", "tsv"):
        rc, out, err = cli("check", root, "--format", fmt, "--verbose", "--site-from", "InstitutionName")
        assert rc in (0, 1), err
        texts.append(out + err)
    rc, out, err = cli("inspect", root)
    texts.append(out + err)
    rc, out, err = cli("audit", root, "--site-from", "InstitutionName", "--tsv", tmp_path / "tsv")
    texts += [out + err] + [p.read_text() for p in (tmp_path / "tsv").iterdir()]
    for text in texts:
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text


def test_rich_markup_in_a_site_name_is_printed_not_parsed(cli, tmp_path):
    a = _bids(tmp_path / "A", "[/bold]site[red]X")
    rc, out, err = cli("audit", a)
    assert rc in (0, 1) and "internal error" not in err, err
    assert "[/bold]site[red]X" in out


def test_tsv_cells_starting_with_formula_characters_are_defused(cli, tmp_path):
    import json
    root = _bids(tmp_path / "A", '=HYPERLINK("http://x","y")')
    side = root / "sub-01" / "anat" / "sub-01_T1w.json"
    side.write_text(json.dumps({**json.loads(SIDECAR), "SeriesDescription": "@SUM(A1)", "EchoTime": -0.5}))
    rc, out, err = cli("check", root, "--format", "tsv", "--site-column", "site")
    assert rc in (0, 1), err
    cells = [c for line in out.splitlines() for c in line.split("\t")]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")], cells
    rc, out, err = cli("audit", root, "--tsv", tmp_path / "tsv")
    for p in (tmp_path / "tsv").iterdir():
        cells = [c.strip('"') for line in p.read_text().splitlines() for c in line.split("\t")]
        assert not [c for c in cells if c[:1] in ("=", "+", "@")], (p.name, cells)
    from protocheck.reports.textsafe import tsv_cell
    assert tsv_cell("-0.5") == "-0.5" and tsv_cell("-cmd|x") == "'-cmd|x"


def test_outputs_never_go_through_links_into_the_input(cli, tmp_path, good_files):
    import os
    root = _exam_copy(tmp_path, good_files[:2])
    victim = root / good_files[0].name
    before = victim.read_bytes()
    tsv = tmp_path / "tsv"
    tsv.mkdir()
    os.symlink(victim, tsv / "matrix.tsv")                       # a planted link in the --tsv folder
    out = tmp_path / "out"
    out.mkdir()
    os.link(root / good_files[1].name, out / "report.json")       # -o hard-linked to an input file
    second = (root / good_files[1].name).read_bytes()
    rc, _, err = cli("audit", root, "--tsv", tsv)
    assert rc in (0, 1), err
    rc, _, err = cli("check", root, "--format", "json", "-o", out / "report.json")
    assert rc in (0, 1), err
    assert victim.read_bytes() == before and (root / good_files[1].name).read_bytes() == second
    assert not (tsv / "matrix.tsv").is_symlink() and (out / "report.json").read_text().startswith("{")


def test_output_onto_an_existing_folder_is_a_clear_error(cli, tmp_path, good_files):
    root = _exam_copy(tmp_path, good_files[:1])
    folder = tmp_path / "reports"
    folder.mkdir()
    rc, out, err = cli("check", root, "--format", "json", "-o", folder)
    assert rc == 2 and "is a folder" in err and "internal error" not in err


def test_output_into_the_input_through_a_linked_folder_is_refused(cli, tmp_path, good_files):
    import os
    root = _exam_copy(tmp_path, good_files[:1])
    os.symlink(root, tmp_path / "alias")
    rc, out, err = cli("check", root, "--format", "json", "-o", tmp_path / "alias" / "r.json")
    assert rc == 2 and "inside the input" in err
    assert sorted(p.name for p in root.iterdir()) == [good_files[0].name]
