import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from callcontrol.config import load_config
from callcontrol.dialplan.store import (
    SEED_AUTHOR,
    CheckFailed,
    DialplanStore,
    StaleEdit,
    StoreError,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    config = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path / "var")})
    return DialplanStore.for_config(config, seed_from=ROOT / "dialplan")


def test_seeded_from_the_repository_as_version_one(store, tmp_path):
    assert store.working_dir == tmp_path / "var" / "dialplan"
    assert store.list_files() == ["extensions.conf", "pjsip.conf", "ari.conf", "http.conf"]
    assert store.read("ari.conf") == (ROOT / "dialplan" / "ari.conf").read_text()
    assert [(v.number, v.author) for v in store.versions("pjsip.conf")] == [(1, SEED_AUTHOR)]


def test_seeding_again_keeps_the_edited_working_copy(store, tmp_path):
    text = store.read("extensions.conf").replace("60)", "45)")
    store.save("extensions.conf", text, "ann")
    again = DialplanStore.for_config(store.config, seed_from=ROOT / "dialplan")
    assert again.read("extensions.conf") == text and len(again.versions("extensions.conf")) == 2


def test_save_diff_and_rollback(store):
    text = store.read("extensions.conf")
    store.save("extensions.conf", text.replace("60)", "45)"), "bob")
    assert "+ same => n,Dial(PJSIP/${EXTEN}@trunk,45)" in store.diff("extensions.conf", 1, 2)
    third = store.rollback("extensions.conf", 1, "ann")
    assert third.number == 3 and store.read("extensions.conf") == text
    assert [v.author for v in store.versions("extensions.conf")] == [SEED_AUTHOR, "bob", "ann"]
    assert store.read_version("extensions.conf", 2) != text


def test_save_refuses_text_that_fails_the_check(store):
    bad = store.read("extensions.conf").replace("Stasis(callcontrol,", "Stasis(x,")
    with pytest.raises(CheckFailed, match=r"extensions.conf:\d+: Stasis\(\) names 'x'"):
        store.save("extensions.conf", bad, "ann")
    assert "Stasis(x," not in store.read("extensions.conf")
    assert len(store.versions("extensions.conf")) == 1


def test_edit_that_breaks_another_file_is_refused(store):
    text = store.read("extensions.conf").replace("[from-agents]", "[phones]")
    with pytest.raises(CheckFailed, match="pjsip.conf:.*'from-agents'"):
        store.save("extensions.conf", text, "ann")


def test_save_from_an_outdated_version_is_refused(store):
    text = store.read("http.conf")
    store.save("http.conf", text + "; one\n", "ann", base=1)
    with pytest.raises(StaleEdit, match="saved as version 2 by ann"):
        store.save("http.conf", text + "; two\n", "bob", base=1)


def test_rejects_unknown_names_versions_and_traversal(store):
    with pytest.raises(StoreError):
        store.read("../secret.conf")
    with pytest.raises(StoreError):
        store.read_version("extensions.conf", 9)
    with pytest.raises(StoreError):
        store.save("modules.conf", "x", "ann")


def test_working_copy_elsewhere(tmp_path):
    shutil.copytree(ROOT / "dialplan", tmp_path / "copy")
    s = DialplanStore(tmp_path / "copy", tmp_path / "h", SimpleNamespace())
    assert s.versions("extensions.conf") == [] and "from-trunk" in s.read("extensions.conf")


def test_concurrent_saves_from_two_stores_on_one_folder_get_distinct_versions(store):
    from concurrent.futures import ThreadPoolExecutor

    other = DialplanStore(store.working_dir, store.history_dir, store.config)
    text = store.read("http.conf")
    with ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(s.save, "http.conf", text + f"; {i}\n", f"user{i}")
                for i, s in enumerate([store, other] * 3)]
        numbers = sorted(job.result().number for job in jobs)
    assert numbers == [2, 3, 4, 5, 6, 7]
    assert len(store.versions("http.conf")) == 7
