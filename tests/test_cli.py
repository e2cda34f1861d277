"""The console command as an operator uses it: migrate, demo, audit verify, catalog validate."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from checklists.loader import DEFAULT_CATALOGUE_DIR
from server.devtools.ca import ensure_dev_signing_material
from server.devtools.samples import sample_content, sample_photos
from server.opinions.content import content_hash
from server.opinions.pdf import render_opinion_pdf
from server.opinions.signing import sign_pdf


def cloudinspect(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "CLOUDINSPECT_DATA_DIR": str(data_dir),
        "CLOUDINSPECT_PASSWORD_TIME_COST": "1",
        "CLOUDINSPECT_PASSWORD_MEMORY_KIB": "1024",
    }
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_migrate_demo_and_a_clean_audit_chain(tmp_path: Path) -> None:
    assert cloudinspect(tmp_path, "migrate").returncode == 0
    demo = cloudinspect(tmp_path, "demo", "--if-empty")
    assert demo.returncode == 0, demo.stderr
    assert "dispatcher" in demo.stdout
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
    again = cloudinspect(tmp_path, "demo", "--if-empty")
    assert "demo-logins.txt" in again.stdout  # printed again, not created twice
    verify = cloudinspect(tmp_path, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout


def test_audit_verify_names_the_first_broken_record(tmp_path: Path) -> None:
    assert cloudinspect(tmp_path, "migrate").returncode == 0
    assert cloudinspect(tmp_path, "demo").returncode == 0
    db = sqlite3.connect(tmp_path / "cloudinspect.db")
    db.execute("DROP TRIGGER audit_records_no_update")
    db.execute("UPDATE audit_records SET action = 'forged' WHERE seq = 1")
    db.commit()
    db.close()
    verify = cloudinspect(tmp_path, "audit", "verify")
    assert verify.returncode == 1
    assert "broken at record 1" in verify.stdout


def test_catalog_validate_reports_file_line_and_message(tmp_path: Path) -> None:
    good = cloudinspect(tmp_path, "catalog", "validate")
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, broken)
    path = broken / "pesticide.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("SH-01", "SH-99", 1), encoding="utf-8")
    bad = cloudinspect(tmp_path, "catalog", "validate", str(broken))
    assert bad.returncode != 0
    assert "pesticide.yaml:" in bad.stderr + bad.stdout
    assert "SH-99" in bad.stderr + bad.stdout


def test_verify_opinion_accepts_the_signed_file_and_rejects_one_flipped_byte(
    tmp_path: Path,
) -> None:
    photos = sample_photos(2, size=(320, 240))
    content = sample_content(items=3, photos=photos)
    material = ensure_dev_signing_material(tmp_path)
    signed = sign_pdf(render_opinion_pdf(content, photos), material, reason="出具", location="测试")
    good = tmp_path / "opinion.pdf"
    good.write_bytes(signed)
    ok = cloudinspect(
        tmp_path, "verify-opinion", str(good), "--expected-hash", content_hash(content)
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tampered = bytearray(signed)
    tampered[len(tampered) // 3] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    refused = cloudinspect(tmp_path, "verify-opinion", str(bad))
    assert refused.returncode == 1, refused.stdout + refused.stderr


def test_demo_inspectors_can_be_drawn_for_every_matter(tmp_path: Path) -> None:
    assert cloudinspect(tmp_path, "migrate").returncode == 0
    assert cloudinspect(tmp_path, "demo").returncode == 0
    db = sqlite3.connect(tmp_path / "cloudinspect.db")
    rows = db.execute("SELECT matters, active FROM inspector_profiles").fetchall()
    db.close()
    assert len(rows) == 4
    assert all(active and "NY" in matters and "CY" in matters for matters, active in rows)
