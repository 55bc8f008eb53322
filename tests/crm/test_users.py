from __future__ import annotations

import pytest
from sqlalchemy import select

from callcontrol.crm.models import ApiToken
from callcontrol.crm.users import (
    TOKEN_USE_RESOLUTION,
    UserError,
    authenticate,
    create_api_token,
    create_user,
    user_for_token,
)


async def test_password_authenticates_and_wrong_one_does_not(db) -> None:
    async with db.sessions.begin() as s:
        await create_user(s, "alice", "correct horse", "agent", "1001", "PJSIP/1001")
    async with db.sessions.begin() as s:
        user = await authenticate(s, "alice", "correct horse")
        assert user is not None and user.device == "PJSIP/1001"
        assert await authenticate(s, "alice", "wrong password") is None
        assert await authenticate(s, "nobody", "correct horse") is None


async def test_bad_role_and_short_password_are_refused(db) -> None:
    async with db.sessions() as s:
        with pytest.raises(UserError, match="role"):
            await create_user(s, "bob", "long enough", "king")
        with pytest.raises(UserError, match="password"):
            await create_user(s, "bob", "short", "agent")


async def test_api_token_finds_its_user_and_only_hash_is_stored(db) -> None:
    async with db.sessions.begin() as s:
        user = await create_user(s, "carol", "long enough", "supervisor")
        token = await create_api_token(s, user)
    async with db.sessions.begin() as s:
        found = await user_for_token(s, token)
        assert found is not None and found.username == "carol"
        assert await user_for_token(s, token + "x") is None
        stored = (await s.scalars(select(ApiToken.token_hash))).all()
        assert token not in stored and len(stored[0]) == 64
        first_use = (await s.scalars(select(ApiToken.last_used_at))).one()
        assert first_use is not None


async def test_token_use_is_written_once_a_minute_not_per_request(db) -> None:
    async with db.sessions.begin() as s:
        user = await create_user(s, "dave", "long enough", "agent")
        token = await create_api_token(s, user)
    async with db.sessions.begin() as s:
        assert await user_for_token(s, token) is not None
    async with db.sessions() as s:
        first = (await s.scalars(select(ApiToken.last_used_at))).one()
    async with db.sessions.begin() as s:
        assert await user_for_token(s, token) is not None
        assert not s.dirty                          # nothing to write: used seconds ago
    async with db.sessions.begin() as s:            # a minute later it moves on
        (row,) = (await s.scalars(select(ApiToken))).all()
        row.last_used_at = first - TOKEN_USE_RESOLUTION
    async with db.sessions.begin() as s:
        assert await user_for_token(s, token) is not None
    async with db.sessions() as s:
        assert (await s.scalars(select(ApiToken.last_used_at))).one() > first
