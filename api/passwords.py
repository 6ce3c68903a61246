"""Password rules, the same on every path that sets a password (API, web, CLI, provisioning).

Refused, each with a Chinese message and the stable code `weak_password` (422):
* shorter than the configured minimum (`password_chars_min`, default 10) or longer than 256;
* one character repeated (`aaaaaaaaaa`) or too few distinct characters (`ababababab`);
* a run of consecutive digits or letters, up or down (`1234567890`, `abcdefghij`, `9876543210`);
* the username itself, or a password containing it (or containing the password in reverse);
* an entry of the common-password list shipped in `api/data/common-passwords.txt`, also with a
  trailing run of digits or punctuation stripped (`password2026!`).

Generated passwords (`api.provision.new_password`: 96 random bits in base64url) always pass.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from api.errors import ApiError

PASSWORD_CHARS_MAX = 256  # argon2 hashes anything, but a megabyte "password" is an attack
DISTINCT_CHARS_MIN = 4  # "ababababab" has two; a real passphrase has many more
TRAILER = re.compile(r"[\d\W_]+$")


class WeakPassword(ApiError):
    code = "weak_password"


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("api.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _is_run(text: str) -> bool:
    """Every step is +1 or every step is −1 (digits, letters): 1234567890, abcdefgh, 9876543210."""
    if len(text) < 3:
        return False
    codes = [ord(c) for c in text.lower()]
    steps = {b - a for a, b in zip(codes, codes[1:])}
    if steps <= {1} or steps <= {-1}:
        return True
    digits = "01234567890"  # 1234567890 wraps 9 → 0
    return text in digits or text in digits[::-1]


def check_password(password: object, *, username: str | None, chars_min: int) -> str:
    """The password, or WeakPassword with a message saying what to change."""
    if not isinstance(password, str):
        raise WeakPassword("密码须为文本 / the password must be text", reason="password_length",
                           params={"chars_min": chars_min, "chars_max": PASSWORD_CHARS_MAX})
    if not chars_min <= len(password) <= PASSWORD_CHARS_MAX:
        raise WeakPassword(f"密码长度须为 {chars_min}–{PASSWORD_CHARS_MAX} 个字符 / "
                           f"password: {chars_min} to {PASSWORD_CHARS_MAX} characters", reason="password_length",
                           params={"chars_min": chars_min, "chars_max": PASSWORD_CHARS_MAX})
    lowered = password.lower()
    if len(set(lowered)) < DISTINCT_CHARS_MIN:
        raise WeakPassword("密码过于简单：重复的字符太多 / too simple: too few different characters",
                           reason="password_repeats")
    if _is_run(lowered):
        raise WeakPassword("密码过于简单：不能是连续的数字或字母 / too simple: a run of consecutive characters",
                           reason="password_run")
    if username:
        name = username.lower()
        if len(name) >= 3 and (name in lowered or lowered in name or name[::-1] in lowered):
            raise WeakPassword("密码不能包含用户名 / the password must not contain the username",
                               reason="password_has_username")
    common = common_passwords()
    stripped = TRAILER.sub("", lowered)
    if lowered in common or (len(stripped) >= 4 and (stripped in common or stripped + "1" in common
                                                     or _is_run(stripped))):
        raise WeakPassword("密码过于常见，容易被猜中，请换一个 / this password is too common: choose another",
                           reason="password_common")
    return password
