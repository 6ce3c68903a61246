"""Logins for the actors a ledger already has (a fresh install, the demo region, new counters …).

Every actor with an active server-held key can get a login: the region admin, units, communities,
counters, residents, members and auditors (the province root key stays offline: no login).
Usernames carry the role and a short id, never a person's name; passwords are random and are shown
once (written to a 0600 file by the CLI), and only their argon2id hash is stored.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from api.auth import LOGIN_ROLES, AuthService
from api.member_access import MemberAccess
from api.passwords import WeakPassword, check_password
from ledger.application import Actor, Ledger
from ledger.domain.errors import LedgerError
from ledger.domain.values import Role

PASSWORD_BYTES = 12  # 16 base64url characters, ~96 bits
REGION_ADMIN_USERNAME = "region-admin"
PASSWORD_CHARS_MIN = 16  # what new_password() makes: 12 bytes in base64url


@dataclass(frozen=True)
class NewLogin:
    username: str
    password: str
    role: Role
    actor_id: UUID
    label: str  # organisation name or key label; never a member's name


def new_password() -> str:
    """96 random bits; drawn again in the (astronomically rare) case the password rules refuse it."""
    while True:
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        try:
            check_password(password, username=None, chars_min=PASSWORD_CHARS_MIN)
        except WeakPassword:
            continue
        return password


def username_for(actor: Actor, taken: set[str]) -> str:
    if actor.role is Role.REGION and REGION_ADMIN_USERNAME not in taken:
        return REGION_ADMIN_USERNAME
    for chars in (8, 12, 16, 32):
        name = f"{actor.role.value}-{actor.actor_id.hex[:chars]}"
        if name not in taken:
            return name
    raise AssertionError("uuid hex collision")


def label_of(ledger: Ledger, actor: Actor) -> str:
    try:
        if actor.role is Role.UNIT:
            return ledger.get_unit(actor.actor_id).name
        if actor.role is Role.COMMUNITY:
            return ledger.get_community(actor.actor_id).name
        if actor.role is Role.COUNTER:
            counter = ledger.get_counter(actor.actor_id)
            return f"{ledger.get_community(counter.community_id).name} {counter.name}"
        if actor.role is Role.REGION:
            region = ledger.get_region()
            return f"{region.name} 管理员"
        if actor.role in (Role.AUDITOR, Role.RESIDENT):
            return ledger.get_key(ledger.key_id_of(actor)).label
    except LedgerError:
        return ""
    return ""  # members: no names in credential files


MEMBER_REASON = "timeledger logins provision（地区运维批量开设）"


def provision(ledger: Ledger, auth: AuthService, *, roles: Iterable[Role] | None = None,
              member_access: MemberAccess | None = None) -> list[NewLogin]:
    """A login for every actor with an active key and no login yet (optionally only some roles).

    A member's login is set up as the region operator's reset (api/member_access.py): the member gets
    a new key held under the generated password, and the signed events name the reason."""
    if member_access is None:
        member_access = MemberAccess(ledger, auth, auth.store, lambda run, alone=False: run())
    wanted = set(roles) if roles is not None else set(LOGIN_ROLES)
    have = auth.actors_with_login()
    taken = {login.username for login in auth.logins(limit=10**9)}
    todo: list[tuple[Actor, str, str]] = []
    seen: set[UUID] = set()
    for actor_id, role_name, _key_id in ledger.secrets.actors():
        role = Role(role_name)
        if role not in wanted or actor_id in have or actor_id in seen:
            continue
        seen.add(actor_id)
        actor = Actor(actor_id, role)
        username = username_for(actor, taken)
        taken.add(username)
        todo.append((actor, username, new_password()))
    members = [item for item in todo if item[0].role is Role.MEMBER]
    others = [item for item in todo if item[0].role is not Role.MEMBER]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # argon2 releases the GIL
        hashes = list(pool.map(auth.hash_password, [password for _, _, password in others]))
    made: list[NewLogin] = []
    for (actor, username, password), password_hash in zip(others, hashes):
        auth.create_login(username=username, password=password, actor=actor, password_hash=password_hash)
        made.append(NewLogin(username, password, actor.role, actor.actor_id, label_of(ledger, actor)))
    for actor, username, password in members:
        member_access.provision(member_id=actor.actor_id, username=username, password=password, reason=MEMBER_REASON)
        made.append(NewLogin(username, password, actor.role, actor.actor_id, label_of(ledger, actor)))
    return made


def credentials_csv(logins: list[NewLogin]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["username", "password", "role", "actor_id", "label"])
    for login in sorted(logins, key=lambda entry: (entry.role.value, entry.username)):
        writer.writerow([login.username, login.password, login.role.value, str(login.actor_id), login.label])
    return buffer.getvalue()


def write_secret(path: Path, text: str) -> None:
    """Write a file only the owner can read (refuses to overwrite)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
