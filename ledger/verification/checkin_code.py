"""The check-in code shown at the venue (签到码, issue #15): its format and its verification, in one place.

A code is one line of ASCII, shown as a QR on the community's activity page and rotated every
`WINDOW_SECONDS`:

    TLC1.<region>.<activity id, 32 hex>.<window>.<key id>.<signature, base64url>

`window` is the number of whole `WINDOW_SECONDS` periods since the Unix epoch; the signature is the
community's Ed25519 signature over `message(region, activity_id, window)`. A code is accepted in its own
window and the one after (a scan that straddles a rotation still works), never later: a photo of the
screen sent to a friend expires within a minute. Every refusal is a named `LedgerError`:

* `checkin_code_malformed` — not a code of this format;
* `checkin_code_signature_invalid` — a byte of it was changed, or its key is not the community's;
* `checkin_code_wrong_activity` — a genuine code of another activity (or region);
* `checkin_code_expired` — outside the current and the previous window.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from uuid import UUID

from ledger.domain.errors import (
    CheckinCodeExpired,
    CheckinCodeMalformed,
    CheckinCodeSignatureInvalid,
    CheckinCodeWrongActivity,
)
from ledger.signing import keys as ed25519

PREFIX = "TLC1"
WINDOW_SECONDS = 30  # the QR rotates this often
WINDOWS_ACCEPTED = 2  # the current window and the previous one: a scan across a rotation still counts
CODE_CHARS_MAX = 200  # 5 + 7 + 33 + 12 + 33 + 87: a longer text is not a code
_DOMAIN = b"timeledger-checkin-code/v1\n"
_CODE = re.compile(r"TLC1\.([0-9]{6})\.([0-9a-f]{32})\.([0-9]{1,12})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{86})")


@dataclass(frozen=True)
class CheckinCode:
    region: str
    activity_id: UUID
    window: int
    key_id: str
    signature: bytes

    def text(self) -> str:
        signature = base64.urlsafe_b64encode(self.signature).decode("ascii").rstrip("=")
        return f"{PREFIX}.{self.region}.{self.activity_id.hex}.{self.window}.{self.key_id}.{signature}"


def window_of(moment: datetime) -> int:
    """The rotation window a moment falls in (timezone-aware moments only)."""
    assert moment.tzinfo is not None, "moments are timezone-aware"
    return int(moment.timestamp()) // WINDOW_SECONDS


def seconds_left(moment: datetime) -> int:
    """Seconds until the code shown at `moment` is replaced (the page refreshes then)."""
    return WINDOW_SECONDS - int(moment.timestamp()) % WINDOW_SECONDS


def message(region: str, activity_id: UUID, window: int) -> bytes:
    """The signed bytes: the activity, its region and the window, nothing a client may choose."""
    return _DOMAIN + f"{region}\n{activity_id}\n{window}".encode("ascii")


def issue(*, region: str, activity_id: UUID, moment: datetime, key_id: str,
          sign: Callable[[bytes], bytes]) -> str:
    """The code for the window of `moment`, signed with the community's key."""
    window = window_of(moment)
    return CheckinCode(region, activity_id, window, key_id, sign(message(region, activity_id, window))).text()


def parse(text: object) -> CheckinCode:
    if not isinstance(text, str) or len(text) > CODE_CHARS_MAX:
        raise CheckinCodeMalformed("这不是签到码 / this is not a check-in code")
    found = _CODE.fullmatch(text.strip())
    if found is None:
        raise CheckinCodeMalformed("这不是签到码（请完整扫描或粘贴） / this is not a check-in code (scan or paste it whole)")
    region, activity_hex, window, key_id, signature = found.groups()
    try:
        raw = base64.urlsafe_b64decode(signature + "==")
    except (binascii.Error, ValueError):
        raise CheckinCodeMalformed("签到码的签名部分无法读取 / the code's signature cannot be read") from None
    if len(raw) != ed25519.SIGNATURE_BYTES or CheckinCode(region, UUID(activity_hex), int(window), key_id,
                                                          raw).text() != text.strip():
        raise CheckinCodeMalformed("这不是签到码 / this is not a check-in code")
    return CheckinCode(region, UUID(activity_hex), int(window), key_id, raw)


def verify(text: object, *, region: str, activity_id: UUID, community_id: UUID, now: datetime,
           key_of: Callable[[str], tuple[bytes, UUID] | None]) -> CheckinCode:
    """The code, if it is a genuine, current code of this activity; else the named refusal.

    `key_of(key_id)` gives a community key valid now — its raw public key and its owner — or None.
    The signature is checked first (so a changed byte anywhere is `signature_invalid`), then the
    activity and region (a genuine code of another activity), then the signer (only the activity's
    own community signs its codes), then the window."""
    code = parse(text)
    key = key_of(code.key_id)
    if key is None:
        raise CheckinCodeSignatureInvalid("签到码的签名密钥不是本地区社区的有效密钥 / the code is not signed by a "
                                          "valid community key of this region")
    public_key, owner_id = key
    if not ed25519.verify(ed25519.load_public(ed25519.b64(public_key)), code.signature,
                          message(code.region, code.activity_id, code.window)):
        raise CheckinCodeSignatureInvalid("签到码已被改动，签名不符 / the check-in code was altered: its signature "
                                          "does not match")
    if code.region != region or code.activity_id != activity_id:
        raise CheckinCodeWrongActivity("这是另一个活动的签到码 / this check-in code is for another activity")
    if owner_id != community_id:
        raise CheckinCodeSignatureInvalid("签到码不是由举办活动的社区签发的 / the code is not signed by the "
                                          "activity's community")
    age = window_of(now) - code.window
    if not 0 <= age < WINDOWS_ACCEPTED:
        raise CheckinCodeExpired("签到码已过期，请扫描现场屏幕上的最新二维码 / the check-in code has expired: scan "
                                 "the code on the screen at the venue")
    return code
