"""The moto server of the local stack, with DynamoDB Query made to read one partition.

moto 5.2's ``Table.query`` (no index) sorts *every* item of the table and then filters by hash key, so a
Query costs O(table) instead of O(partition): when the history table held one item per (user, movie),
~100k after a MovieLens replay, every recommend request paid ~100 ms for reading one user's history; with
one page per user it would still grow with the number of users (100k in the course data). Real DynamoDB, DynamoDB Local and
LocalStack read only the partition. This launcher hands moto's own query code a view of the table that
holds just the queried partition, so results, ordering, paging and filters stay moto's; everything else
is the unmodified moto server (``python -m infra.moto_server -H 127.0.0.1 -p 4566``).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from moto.dynamodb.models.table import Table
from moto.server import main as moto_main

_moto_query = Table.query


def _query_one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name is not None or hash_key is None:  # index queries span partitions: moto as is
        return _moto_query(self, hash_key, *args, **kwargs)
    view = copy.copy(self)
    view.items = {hash_key: self.items[hash_key]} if hash_key in self.items else {}
    return _moto_query(view, hash_key, *args, **kwargs)


def main(argv: list[str] | None = None) -> None:
    Table.query = _query_one_partition  # type: ignore[method-assign]
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
