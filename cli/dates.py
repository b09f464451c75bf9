"""Points in time on the command line: an ISO date or datetime, in UTC.

A date alone means its end for `--as-of` (what was in force on that day, after the day's
changes) and its start for `--since` (changes on that day count). A datetime without a zone
is UTC; one with a zone is converted to UTC.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timezone


def as_of_time(text: str) -> datetime:
    """argparse type of `--as-of`: a date means the end of that day (UTC)."""
    return _moment(text, time.max)


def since_time(text: str) -> datetime:
    """argparse type of `--since`: a date means the start of that day (UTC)."""
    return _moment(text, time.min)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _moment(text: str, day_time: time) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), day_time, tzinfo=timezone.utc)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: a zone that moves it before year 1 or past 9999
        raise argparse.ArgumentTypeError(
            f"must be an ISO date or datetime (UTC) between years 1 and 9999, e.g. 2026-11-22 or "
            f"2026-11-22T02:00, got {text!r}"
        ) from None
