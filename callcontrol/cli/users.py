"""``callcontrol user add`` (password from stdin) and ``callcontrol token create``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from callcontrol.cli import CliError


def register(subparsers: Any) -> None:
    user = subparsers.add_parser("user", help="manage users (agents and staff)")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("username")
    add.add_argument("--role", required=True, help="agent, supervisor, admin or engineer")
    add.add_argument("--extension", help="internal extension, e.g. 1001")
    add.add_argument("--device", help="Asterisk dial string, e.g. PJSIP/1001")
    add.add_argument("--display-name", help="name shown in the UI")
    add.set_defaults(func=add_user)
    token = subparsers.add_parser("token", help="manage API bearer tokens")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = token_sub.add_parser("create", help="create and print an API token for a user")
    create.add_argument("username")
    create.set_defaults(func=create_token)


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


async def add_user(args: argparse.Namespace, config: Any) -> int:
    from sqlalchemy.exc import IntegrityError

    from callcontrol.crm.db import create_engine, session_factory
    from callcontrol.crm.users import UserError, create_user

    password = _read_password()
    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine).begin() as session:
            user = await create_user(session, args.username, password, args.role,
                                     args.extension, args.device, args.display_name)
    except UserError as exc:
        raise CliError(str(exc)) from exc
    except IntegrityError as exc:
        raise CliError("username or extension already exists") from exc
    except Exception as exc:  # noqa: BLE001
        raise CliError(_one_line(exc)) from exc
    finally:
        await engine.dispose()
    print(f"user {user.username} ({user.role}) created")
    return 0


async def create_token(args: argparse.Namespace, config: Any) -> int:
    from sqlalchemy import select

    from callcontrol.crm.db import create_engine, session_factory
    from callcontrol.crm.models import User
    from callcontrol.crm.users import create_api_token

    engine = create_engine(config.database_url)
    try:
        async with session_factory(engine).begin() as session:
            user = await session.scalar(select(User).where(User.username == args.username))
            if user is None:
                raise CliError(f"no such user: {args.username}")
            token = await create_api_token(session, user)
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CliError(_one_line(exc)) from exc
    finally:
        await engine.dispose()
    print(token)
    return 0


def _one_line(exc: Exception) -> str:
    text = f"database error: {type(exc).__name__}: {exc}"
    return text.splitlines()[0][:300]
