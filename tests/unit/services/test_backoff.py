from __future__ import annotations

from services.backoff import Backoff


def test_delays_double_up_to_the_cap_and_reset_starts_again() -> None:
    backoff = Backoff(first=0.05, maximum=0.3)
    assert [backoff.delay() for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    backoff.reset()
    assert backoff.delay() == 0.05
