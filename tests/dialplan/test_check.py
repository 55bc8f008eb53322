import subprocess
import sys
from pathlib import Path

import pytest

from callcontrol.config import load_config
from callcontrol.dialplan.check import check_directory, check_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "dialplan"


def _text(name: str) -> str:
    return (SHIPPED / name).read_text()


def _errors(files: dict[str, str], env: dict | None = None) -> list[str]:
    config = load_config(env or {})
    return [str(f) for f in check_files(list(files.items()), config) if f.error]


def test_every_shipped_file_passes_with_the_default_configuration():
    findings = check_directory(SHIPPED, load_config({}))
    assert [f for f in findings if f.error] == []


def test_wrong_stasis_app_fails_our_check_with_file_and_line():
    text = _text("extensions.conf").replace("Stasis(callcontrol,inbound,${EXTEN},vip",
                                            "Stasis(other,inbound,${EXTEN},vip")
    line = next(no for no, ln in enumerate(text.splitlines(), 1) if "Stasis(other" in ln)
    assert _errors({"extensions.conf": text}) == [
        f"extensions.conf:{line}: Stasis() names 'other', expected the configured "
        "application 'callcontrol' (ari.app)"]


def test_stasis_app_given_through_a_global_is_resolved():
    text = "[globals]\nAPP=elsewhere\n[ctx]\nexten => s,1,Stasis(${APP})\n"
    assert any("Stasis() names 'elsewhere'" in e for e in _errors({"x/other.conf": text}))


def test_configured_app_and_agi_port_are_what_the_files_must_use():
    errors = _errors({"extensions.conf": _text("extensions.conf")},
                     {"CALLCONTROL_ARI_APP": "cc", "CALLCONTROL_AGI_PORT": "4600"})
    assert sum("expected the configured application 'cc'" in e for e in errors) == 2
    assert sum("FastAGI URL uses port 4573, expected the configured port 4600" in e
               for e in errors) == 1


def test_agi_url_without_port_means_4573():
    text = "[ctx]\nexten => s,1,AGI(agi://callcontrol/lookup)\n"
    assert _errors({"a.conf": text}) == []
    assert _errors({"a.conf": text}, {"CALLCONTROL_AGI_PORT": "4600"}) == [
        "a.conf:2: FastAGI URL uses port 4573, expected the configured port 4600 (agi.port)"]


def test_broken_dialplan_fails_with_linter_message():
    text = _text("extensions.conf").replace(" same => n,Hangup()", " same => n,Hangup(", 1)
    errors = _errors({"extensions.conf": text})
    assert errors and all("W_APP_BALANCE" in e for e in errors), errors


def test_unknown_application_and_missing_context_are_linter_errors():
    text = _text("extensions.conf").replace("Goto(outbound,", "Goto(nowhere,").replace(
        "NoOp(Inbound", "NoSuchApp(Inbound")
    errors = _errors({"extensions.conf": text})
    assert any("E_APP_MISSING" in e and "NoSuchApp" in e for e in errors)
    assert any("E_DP_GOTO_NOCONTEXT" in e for e in errors)


def test_removing_a_required_context_is_reported():
    text = _text("extensions.conf").replace("[outbound]", "[outgoing]").replace(
        "Goto(outbound,", "Goto(outgoing,")
    assert _errors({"extensions.conf": text}) == [
        "extensions.conf: missing context [outbound] (see the shipped extensions.conf)"]


@pytest.mark.parametrize(("change", "message"), [
    (("[callcontrol]", "[someone]"), "no ARI user [callcontrol] with type = user"),
    (("read_only = no", "read_only = yes"), "is read_only"),
    (("password = callcontrol", "password = other"), "differs from the configured"),
    (("enabled = yes", "enabled = no"), "ARI is not enabled"),
])
def test_ari_conf_must_match_the_configured_user(change, message):
    errors = _errors({"ari.conf": _text("ari.conf").replace(*change)})
    assert len(errors) == 1 and message in errors[0] and errors[0].startswith("ari.conf:")


def test_http_conf_must_serve_ari_where_callcontrol_looks():
    text = _text("http.conf")
    assert _errors({"http.conf": text}, {"CALLCONTROL_ARI_URL": "http://asterisk:8088/ari"}) == []
    assert "bindport 8089 but callcontrol reaches ARI at port 8088" in _errors(
        {"http.conf": text.replace("8088", "8089")})[0]
    local = text.replace("bindaddr = 0.0.0.0", "bindaddr = 127.0.0.1")
    assert "only accepts local connections" in _errors(
        {"http.conf": local}, {"CALLCONTROL_ARI_URL": "http://asterisk:8088/ari"})[0]


def test_pjsip_endpoint_context_must_exist_in_extensions():
    files = {"extensions.conf": _text("extensions.conf"),
             "pjsip.conf": _text("pjsip.conf").replace("context = from-trunk",
                                                       "context = from-carrier")}
    errors = _errors(files)
    assert len(errors) == 1 and "uses context 'from-carrier'" in errors[0]


def test_cli_checks_every_file_and_exits_nonzero_on_a_broken_copy(tmp_path):
    for path in SHIPPED.glob("*.conf"):
        (tmp_path / path.name).write_text(path.read_text())
    run = [sys.executable, "-m", "callcontrol", "dialplan", "check"]
    good = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, env={
        "PATH": "", "CALLCONTROL_VAR_DIR": str(tmp_path / "var")})
    assert good.returncode == 0 and "4 files checked, no errors" in good.stdout
    bad = _text("extensions.conf").replace("Stasis(callcontrol,", "Stasis(x,")
    (tmp_path / "extensions.conf").write_text(bad)
    out = subprocess.run([*run, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "", "CALLCONTROL_VAR_DIR": str(tmp_path / "var")})
    assert out.returncode == 1, out.stderr
    assert f"{tmp_path}/extensions.conf:" in out.stdout and "Stasis() names 'x'" in out.stdout


def test_included_files_are_linted_where_they_are(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "extensions.conf").write_text(
        _text("extensions.conf") + '\n#include "sub/more.conf"\n')
    (tmp_path / "sub" / "more.conf").write_text(
        "[more]\nexten => s,1,NoSuchApp()\n same => n,Hangup()\n")
    errors = [str(f) for f in check_files([tmp_path / "extensions.conf"], load_config({}))
              if f.error]
    assert errors == [f"{tmp_path}/sub/more.conf:2: E_APP_MISSING: app 'NoSuchApp' does not "
                      "exist, dialplan will halt here!"]


def test_linter_warnings_can_be_silenced_with_alint_ignore(monkeypatch):
    text = _text("extensions.conf").replace(" same => n,Hangup()", " same => n,Hangup(", 1)
    monkeypatch.setenv("ALINT_IGNORE", "W_APP_BALANCE")
    assert _errors({"extensions.conf": text}) == []


@pytest.mark.parametrize("line", [" same => n,System(rm -rf /tmp/x)",
                                  " same => n,TrySystem(id)",
                                  " same => n,Set(X=${SHELL(id)})"])
def test_shell_access_is_refused(line):
    text = _text("extensions.conf").replace(" same => n,Hangup()", line + "\n same => n,Hangup()",
                                            1)
    errors = _errors({"extensions.conf": text})
    assert len(errors) == 1 and "runs shell commands on the Asterisk host" in errors[0]
