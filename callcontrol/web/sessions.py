"""Browser sessions: an encrypted cookie (Fernet) keyed from ``config.secret_key``.

The cookie holds only the user id, the CSRF token and the sign-in time; the user is read
from the database on every request, so a deactivated user or a changed role takes effect
at once. HttpOnly and SameSite=Lax always; Secure when the request came over https
(directly or through a proxy that says so in ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import secrets
import warnings

from aiohttp import web
from aiohttp_session import Session, get_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# aiohttp-session 2.12 stores its objects under plain string request keys; harmless.
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")

COOKIE_NAME = "callcontrol_session"
MAX_AGE = 12 * 3600  # one working day; Fernet's ttl refuses older cookies even if replayed
USER_ID = "uid"
CSRF = "csrf"


def session_key(secret_key: bytes) -> bytes:
    """A 32-byte key for the cookie, derived so it differs from every other use of the key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"callcontrol:session-cookie")
    return hkdf.derive(secret_key)


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


class SessionStorage(EncryptedCookieStorage):
    def __init__(self, secret_key: bytes) -> None:
        super().__init__(
            session_key(secret_key), cookie_name=COOKIE_NAME,
            max_age=MAX_AGE, httponly=True, samesite="Lax", path="/",
        )

    async def save_session(self, request: web.Request, response: web.StreamResponse,
                           session: Session) -> None:
        await super().save_session(request, response, session)
        morsel = response.cookies.get(self.cookie_name)
        if morsel is not None and is_https(request):
            morsel["secure"] = True


def sessions_middleware(secret_key: bytes):
    return session_middleware(SessionStorage(secret_key))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token, created (and the cookie set) on first use."""
    session = await get_session(request)
    token = session.get(CSRF)
    if not token:
        token = new_csrf_token()
        session[CSRF] = token
    return token


FLASHES = "flash"
FLASH_LEVELS = ("ok", "info", "warn", "error")


async def flash(request: web.Request, message: str, level: str = "ok") -> None:
    """A message for the next page this session renders (post/redirect/get)."""
    if level not in FLASH_LEVELS:
        raise ValueError(f"flash level must be one of {', '.join(FLASH_LEVELS)}")
    session = await get_session(request)
    session[FLASHES] = [*session.get(FLASHES, [])[-4:], [level, message]]


async def pop_flashes(request: web.Request) -> list[dict[str, str]]:
    session = await get_session(request)
    if FLASHES not in session:
        return []
    return [{"level": level, "message": message} for level, message in session.pop(FLASHES)]
