"""Communications: drafts, completion, follow-ups, recordings, sandboxed templates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcontrol.cc.comms import TemplateProblem, render_text
from callcontrol.crm.models import Communication, CommunicationTemplate
from tests.cc import factories as f


async def comm_world(app, **extra):
    async with app.sessions() as session, session.begin():
        c = await f.person(session, "Nikos", "Ioannou")
        acc = await f.account(session, c, "A-77", balance="12.50")
        await f.subscription(session, acc, "S-77")
        comm = Communication(direction="incoming", media="phone", subject="Complaint",
                             contact_id=c.id, state="draft", **extra)
        session.add(comm)
        session.add(CommunicationTemplate(
            name="Balance", media="email", subject="Your account {{ accounts[0].number }}",
            content="Dear {{ contact.name }}, you owe {{ accounts[0].balance }}."))
        session.add(CommunicationTemplate(name="Broken", subject="{{ jobs[0].subject }}",
                                          content="{% if %}"))
        await session.flush()
        ids = {"contact": c.id, "comm": comm.id}
        ids.update({t.name: t.id for t in (await session.scalars(
            select(CommunicationTemplate))).all()})
        return ids


async def test_draft_then_save_completes_and_locks(cc_app) -> None:
    token = await cc_app.login("ada")
    ids = await comm_world(cc_app)
    url = f"/cc/communications/{ids['comm']}"
    form = {"direction": "incoming", "media": "phone", "subject": "Picture quality",
            "category": "Technical issue", "content": "Pixelation on channel 5"}
    resp = await cc_app.post(url, {**form, "submit": "draft"}, token)
    assert resp.status == 303
    resp = await cc_app.post(url, {**form, "subject": "", "submit": "complete"}, token)
    assert resp.status == 422 and "Subject is required" in await resp.text()
    resp = await cc_app.post(url, {**form, "submit": "complete"}, token)
    assert resp.status == 303
    resp = await cc_app.post(url, {**form, "subject": "changed", "submit": "draft"}, token)
    assert resp.status == 422 and "follow it up instead" in await resp.text()
    async with cc_app.sessions() as session:
        comm = await session.get(Communication, ids["comm"])
    assert (comm.state, comm.subject, comm.category) == ("completed", "Picture quality",
                                                         "Technical issue")


async def test_follow_up_creates_a_linked_draft(cc_app) -> None:
    token = await cc_app.login("ada")
    ids = await comm_world(cc_app)
    resp = await cc_app.post(f"/cc/communications/{ids['comm']}/follow-up", {}, token)
    assert resp.status == 303
    async with cc_app.sessions() as session:
        child = await session.scalar(select(Communication).where(
            Communication.parent_id == ids["comm"]))
    assert resp.headers["Location"] == f"/cc/communications/{child.id}"
    assert child.state == "draft" and child.contact_id == ids["contact"]
    page = await (await cc_app.client.get(f"/cc/communications/{ids['comm']}")).text()
    assert f"/cc/communications/{child.id}" in page


async def test_template_fills_subject_and_content_and_broken_ones_explain(cc_app) -> None:
    await cc_app.login("ada")
    ids = await comm_world(cc_app)
    resp = await cc_app.client.get("/cc/communications/fill", params={
        "contact": ids["contact"], "template": ids["Balance"]})
    html = await resp.text()
    assert resp.status == 200
    assert 'value="Your account A-77"' in html and "Dear Nikos Ioannou, you owe 12.50." in html
    resp = await cc_app.client.get("/cc/communications/fill", params={
        "contact": ids["contact"], "template": ids["Broken"]})
    html = await resp.text()
    assert resp.status == 200 and 'role="alert"' in html and "cannot be used" in html
    form = await (await cc_app.client.get("/cc/actions/create-communication",
                                          params={"contact": ids["contact"]})).text()
    assert 'hx-get="/cc/communications/fill?contact=' in form and ">Balance<" in form


@pytest.mark.parametrize("source", [
    "{{ contact.__class__.__mro__ }}", "{{ ''.__class__.__subclasses__() }}",
    "{{ 'x' * 10000000 }}", "{{ 9 ** 999999 }}", "{% for %}", "{{ nope }}",
    "{{ accounts[5].number }}", "{{ lipsum.__globals__ }}",
])
def test_templates_run_sandboxed(source) -> None:
    with pytest.raises(TemplateProblem):
        render_text(source, {"contact": {"name": "x"}, "accounts": []})


async def test_call_recordings_play_and_unsafe_names_are_refused(cc_app, tmp_path) -> None:
    recordings = tmp_path / "recordings"  # the cc_app fixture's recordings directory
    recordings.mkdir()
    (recordings / "call-1.wav").write_bytes(b"RIFF....WAVEfmt ")
    await cc_app.login("ada")
    ids = await comm_world(cc_app, recording="call-1", call_id="c-1")
    page = await (await cc_app.client.get(f"/cc/communications/{ids['comm']}")).text()
    assert 'data-testid="recording"' in page
    audio = await cc_app.client.get(f"/cc/communications/{ids['comm']}/recording")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    async with cc_app.sessions() as session, session.begin():
        comm = await session.get(Communication, ids["comm"])
        comm.recording = "../../etc/passwd"
    bad = await cc_app.client.get(f"/cc/communications/{ids['comm']}/recording")
    assert bad.status == 404


async def test_templates_are_managed_by_supervisors_only(cc_app) -> None:
    token = await cc_app.login("ada")
    assert (await cc_app.client.get("/cc/templates")).status == 403
    resp = await cc_app.post("/cc/templates/new", {"name": "x", "media": "sms"}, token)
    assert resp.status == 403


async def test_supervisor_saves_a_template_and_syntax_errors_are_refused(cc_app) -> None:
    token = await cc_app.login("sue", "supervisor")
    bad = await cc_app.post("/cc/templates/new", {
        "name": "Welcome", "media": "email", "subject": "Hi {{ contact.name",
        "content": "x"}, token)
    assert bad.status == 422 and "does not parse" in await bad.text()
    ok = await cc_app.post("/cc/templates/new", {
        "name": "Welcome", "media": "email", "subject": "Hi {{ contact.name }}",
        "content": "Welcome aboard"}, token)
    assert ok.status == 303
    assert "Welcome" in await (await cc_app.client.get("/cc/templates")).text()
