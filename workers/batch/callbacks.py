"""Callback delivery: one HTTP POST, and the decision whether a failure is worth retrying.

Retried: connection errors, timeouts, 5xx, 408 and 429. Anything else (other 4xx, a redirect) fails at
once: the receiver has said no, and asking again would not change its mind. Redirects are not followed,
since a POST that follows a redirect turns into a GET without the body. Nothing here logs a body.
"""

from __future__ import annotations

import random
import urllib.error
import urllib.request
from urllib.parse import urlsplit

USER_AGENT = "rtgateway-callback/0.1"
_RETRYABLE_STATUS = frozenset({408, 429})


class DeliveryError(Exception):
    """The POST did not succeed; ``kind`` names why (an HTTP status or an error type), never the payload."""

    retryable = False

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class RetryableDelivery(DeliveryError):
    retryable = True


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirects)


def deliver(url: str, body: bytes, content_type: str, timeout_s: float, request_id: str = "") -> int:
    """POST body to url; return the 2xx status or raise DeliveryError."""
    headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
    if request_id:
        headers["X-Voci-Requestid"] = request_id
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        err.close()
        status = int(err.code)
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise RetryableDelivery(f"http {status}") from None
        raise DeliveryError(f"http {status}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RetryableDelivery(type(reason).__name__) from None


def backoff_s(retry: int, base_s: float, max_s: float) -> float:
    """Delay before retry number ``retry`` (0-based): exponential, capped, with "equal jitter".

    Half the delay is fixed and half random, so receivers coming back from an outage are not hit by
    every callback at once, and no retry follows a failure immediately (full jitter can draw ~0).
    """
    ceiling = min(max_s, base_s * 2.0**retry)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def host_of(url: str) -> str:
    """For logs: the host only. A callback URL's path or query may carry a token."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
