from pathlib import Path

from callcontrol.config import load_config
from callcontrol.dialplan.check import check_files

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "dialplan" / "extensions.conf").read_text()


def test_shipped_dialplan_has_no_errors():
    findings = check_files([ROOT / "dialplan" / "extensions.conf"], load_config({}))
    assert [f for f in findings if f.error] == []


def test_wrong_stasis_app_fails_our_check():
    text = GOOD.replace("Stasis(callcontrol,", "Stasis(other,")
    findings = check_files([("extensions.conf", text)], load_config({}))
    assert any("Stasis() names 'other'" in f.message for f in findings)


def test_broken_dialplan_fails_with_linter_message():
    text = GOOD.replace(" same => n,Hangup()", " same => n,Hangup(", 1)
    findings = check_files([("extensions.conf", text)], load_config({}))
    assert any(f.error and "W_APP_BALANCE" in f.message for f in findings), findings
