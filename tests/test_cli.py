from __future__ import annotations

import subprocess
import sys

import pytest

from geolab.cli import build_parser, doctor_report, main


def test_doctor_report_has_everything():
    report = doctor_report()
    for key in ("geolab", "python", "torch", "torchvision", "cv2", "profile", "data_dir", "haar_cascades", "device", "gpu"):
        assert key in report, key
    assert report["haar_cascades"].startswith("ok")


def test_doctor_command_prints_and_succeeds(capsys, clean_env):
    clean_env.setenv("GEOLAB_PROFILE", "smoke")
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "profile" in out and "smoke" in out and "All set." in out


def test_doctor_reports_bad_profile(capsys, clean_env):
    clean_env.setenv("GEOLAB_PROFILE", "bogus")
    assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    assert "Unknown run profile" in captured.out and "profile" in captured.err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "doctor" in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "geolab.cli", "doctor"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "haar_cascades" in result.stdout


def test_parser_lists_subcommands():
    assert "doctor" in build_parser().format_help()
