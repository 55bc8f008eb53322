"""The communications API on a real database (SQLite and PostgreSQL) with real WAV files.

``api_stack`` builds the app with ``callcontrol.api.setup`` on a migrated database, users of
every role with bearer tokens, and helpers to insert contacts, communications and
recordings. Tests of real calls use ``tests.calls.conftest.call_env`` instead.
"""

from __future__ import annotations

import dataclasses
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from callcontrol.api.openapi import build_document
from callcontrol.app import build_app
from callcontrol.config import load_config
from callcontrol.crm.models import Communication, Contact, User
from callcontrol.crm.users import create_api_token

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROLES = ("agent", "supervisor", "admin", "engineer")


def write_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A mono 16-bit PCM WAV of the given length (silence with a ramp, so bytes differ)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join((i % 256).to_bytes(2, "little") for i in range(frames)))
    return path


def api_config(tmp: Path, database_url: str) -> Any:
    config = load_config(env={
        "CALLCONTROL_VAR_DIR": str(tmp / "var"),
        "CALLCONTROL_DATABASE_URL": database_url,
        "CALLCONTROL_SECRET_KEY": "s" * 40,
        "CALLCONTROL_RECORDINGS_DIR": str(tmp / "recordings"),
        # no PBX in these tests: a port where nothing listens (call control keeps retrying)
        "CALLCONTROL_ARI_URL": "http://127.0.0.1:1/ari",
    })
    return config


def schema_validator(name: str) -> Draft202012Validator:
    """A validator of the documented component ``name`` (refs resolve in the document)."""
    document = build_document()
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_documented(name: str, instance: Any) -> None:
    errors = sorted(schema_validator(name).iter_errors(instance), key=str)
    assert not errors, f"{name} does not match the OpenAPI document: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_documented_response(method: str, template: str, status: int, body: Any) -> None:
    """The status is documented for this operation and the body matches its JSON schema."""
    document = build_document()
    operation = document["paths"][template][method.lower()]
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template} does not document status {status}"
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"],
              "components": document["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, f"{method} {template} {status}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@dataclasses.dataclass
class ApiStack:
    client: Any
    sessions: Any
    config: Any
    users: dict[str, int]
    tokens: dict[str, str]

    @property
    def recordings(self) -> Path:
        return Path(self.config.calls.recordings_dir)

    async def add_user(self, username: str, role: str) -> None:
        async with self.sessions() as session, session.begin():
            user = User(username=username, password_hash="not-a-hash", role=role)
            session.add(user)
            await session.flush()
            self.users[username] = user.id
            self.tokens[username] = await create_api_token(session, user)

    async def add_contact(self, first: str, last: str = "Test") -> tuple[int, str]:
        async with self.sessions() as session, session.begin():
            contact = Contact(kind="person", first_name=first, last_name=last,
                              search_name=f"{first} {last}".lower())
            session.add(contact)
            await session.flush()
            return contact.id, contact.code

    async def add_comm(self, *, agent: str | None = "anna", minutes: int = 0,
                       **fields: Any) -> int:
        values: dict[str, Any] = {
            "direction": "incoming", "media": "phone", "state": "completed",
            "subject": "Inbound call", "started_at": T0 + timedelta(minutes=minutes),
            "agent_id": self.users[agent] if agent else None,
        }
        values.update(fields)
        async with self.sessions() as session, session.begin():
            comm = Communication(**values)
            session.add(comm)
            await session.flush()
            return comm.id

    async def get(self, path: str, user: str | None, **kwargs: Any) -> tuple[int, Any]:
        resp = await self.raw(path, user, **kwargs)
        return resp.status, await resp.json(content_type=None)

    async def raw(self, path: str, user: str | None, headers: dict | None = None) -> Any:
        headers = dict(headers or {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return await self.client.get(path, headers=headers)


@pytest.fixture
async def api_stack(db, tmp_path: Path, aiohttp_client) -> ApiStack:
    from callcontrol.api import setup
    from callcontrol.web.auth import SESSIONS

    config = api_config(tmp_path, db.url)
    app = build_app(config, setups=[setup])
    client = await aiohttp_client(app)
    stack = ApiStack(client, app[SESSIONS], config, {}, {})
    for username, role in (("anna", "agent"), ("bob", "agent"), ("sue", "supervisor"),
                           ("ada", "admin"), ("eve", "engineer")):
        await stack.add_user(username, role)
    return stack
