"""Users: creation, password authentication (argon2) and API bearer tokens (SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.models import ROLES, ApiToken, User, utcnow

MIN_PASSWORD_LENGTH = 8
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # how fresh an API token's last_used_at is
_HASHER = PasswordHasher()
# A valid hash to verify against when the user is unknown, so timing does not leak names.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


class UserError(ValueError):
    """Invalid user input (role, password, username)."""


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


async def create_user(
    session: AsyncSession, username: str, password: str, role: str,
    extension: str | None = None, device: str | None = None, display_name: str | None = None,
) -> User:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not username or not username.strip():
        raise UserError("username must not be empty")
    user = User(
        username=username.strip(), password_hash=hash_password(password), role=role,
        extension=extension, device=device, display_name=display_name,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    user = await session.scalar(select(User).where(User.username == username))
    # argon2 takes ~100 ms of CPU by design; in a thread (cffi releases the GIL) it does
    # not stall the event loop that carries calls, pops and websockets.
    if user is None or not user.active:
        await asyncio.to_thread(_verify, _DUMMY_HASH, password)
        return None
    if not await asyncio.to_thread(_verify, user.password_hash, password):
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        await session.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_api_token(session: AsyncSession, user: User) -> str:
    """A new bearer token for ``user``; only its SHA-256 is stored, the plaintext returned once."""
    token = "cc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    await session.flush()
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    if not token:
        return None
    row = await session.execute(
        select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash(token))
    )
    found = row.first()
    if found is None or not found[0].active:
        return None
    now, used = utcnow(), found[1].last_used_at
    if used is None or now - used >= TOKEN_USE_RESOLUTION:
        # to the minute: a write on every request would make each API call a write
        # transaction (and serialise them on SQLite) for a figure read in minutes
        found[1].last_used_at = now
    return found[0]
