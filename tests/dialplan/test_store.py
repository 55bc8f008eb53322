import shutil
from pathlib import Path

import pytest

from callcontrol.config import load_config
from callcontrol.dialplan.store import CheckFailed, DialplanStore, StoreError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    work = tmp_path / "dialplan"
    shutil.copytree(ROOT / "dialplan", work)
    return DialplanStore(work, tmp_path / "history", load_config({}))


def test_save_diff_and_rollback(store):
    text = store.read("extensions.conf")
    first = store.save("extensions.conf", text, "ann")
    store.save("extensions.conf", text.replace("60)", "45)"), "bob")
    assert "+ same => n,Dial(PJSIP/${EXTEN}@trunk,45)" in store.diff("extensions.conf", 1, 2)
    third = store.rollback("extensions.conf", first.number, "ann")
    assert third.number == 3 and store.read("extensions.conf") == text
    assert [v.author for v in store.versions("extensions.conf")] == ["ann", "bob", "ann"]


def test_save_refuses_text_that_fails_the_check(store):
    bad = store.read("extensions.conf").replace("Stasis(callcontrol,", "Stasis(x,")
    with pytest.raises(CheckFailed):
        store.save("extensions.conf", bad, "ann")
    assert "Stasis(x," not in store.read("extensions.conf")


def test_rejects_unknown_names_and_traversal(store):
    with pytest.raises(StoreError):
        store.read("../secret.conf")
