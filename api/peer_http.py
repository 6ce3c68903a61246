"""Sending a signed message to another region's service (transfers, 通存通兑): one HTTP POST, its
failures as OSError, which the ledger's federation code treats as "the peer did not answer". One
keep-alive client for the process (thread-safe), so a counter's requests to a member's home region do
not each open a connection."""

from __future__ import annotations

import threading

import httpx

_lock = threading.Lock()
_client: httpx.Client | None = None
CONNECTIONS_MAX = 32  # to all peers together


def _shared() -> httpx.Client:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_connections=CONNECTIONS_MAX,
                                                       max_keepalive_connections=CONNECTIONS_MAX))
        return _client


def post(url: str, body: bytes, *, timeout: float) -> tuple[int, bytes]:
    try:
        response = _shared().post(url, content=body, headers={"Content-Type": "application/json"}, timeout=timeout)
    except httpx.HTTPError as error:
        raise OSError(str(error)) from None
    return response.status_code, response.content


SETTLEMENT_TIMEOUT_SECONDS = 60.0  # a cumulative settlement statement each way, checked against the peer's log


def post_settlement(url: str, body: bytes) -> tuple[int, bytes]:
    """Send this region's settlement statement to a peer (the answer carries the peer's)."""
    return post(url, body, timeout=SETTLEMENT_TIMEOUT_SECONDS)
