"""Sending a signed message to another region's service (transfers, 通存通兑): one HTTP POST, its
failures as OSError, which the ledger's federation code treats as "the peer did not answer"."""

from __future__ import annotations

import httpx


def post(url: str, body: bytes, *, timeout: float) -> tuple[int, bytes]:
    try:
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=timeout)
    except httpx.HTTPError as error:
        raise OSError(str(error)) from None
    return response.status_code, response.content
