"""Backfill pages read several at a time still come back whole and in order."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.quickbooks.cdc import _pages_at_once


class _PagedApi:
    """Answers ``select … STARTPOSITION p MAXRESULTS n`` over ``rows`` records."""

    realm_id = "1"

    def __init__(self, rows: int) -> None:
        self.rows = [{"Id": str(n)} for n in range(1, rows + 1)]
        self.calls = 0
        self._lock = threading.Lock()

    def query(self, statement: str) -> list[dict[str, Any]]:
        found = re.search(r"STARTPOSITION (\d+) MAXRESULTS (\d+)", statement)
        assert found is not None
        start, cap = int(found[1]), int(found[2])
        with self._lock:
            self.calls += 1
        return self.rows[start - 1 : start - 1 + cap]


@pytest.mark.parametrize(("rows", "workers"), [(0, 4), (49, 4), (50, 4), (237, 4), (237, 1)])
def test_pages_read_at_once_are_whole_and_in_order(rows: int, workers: int) -> None:
    api = _PagedApi(rows)
    with ThreadPoolExecutor(workers) as pool:
        got = _pages_at_once(pool, workers, api, "Invoice", None, 50)  # type: ignore[arg-type]
    assert [row["Id"] for row in got] == [str(n) for n in range(1, rows + 1)]
    assert api.calls <= rows // 50 + workers  # at most one wave past the last page
