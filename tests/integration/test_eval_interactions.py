"""Loading interaction logs: time order with ties by movie id; DynamoDB histories over a real moto server."""

from __future__ import annotations

from movierec.config import Settings
from movierec.dal.history import save_histories
from movierec.models.state import HistoryState
from movierec.evaluation.interactions import build_log, load_dynamodb, movie_order
from movierec.models.ranking import Interaction
from movierec.dal.tables import Tables


def test_build_log_orders_by_time_then_movie_id_and_keeps_one_row_per_movie() -> None:
    rows = [
        (1, Interaction("10", 5.0)),
        (1, Interaction("9", 5.0)),
        (1, Interaction("x", 1.0)),
        (1, Interaction("x", 7.0)),  # the same movie again, later: the later row is kept
        (2, Interaction("9", 3.0)),
    ]
    log = build_log(rows, catalog=["100"])
    assert [(i.movie_id, i.last_seen) for i in log.users[1]] == [("9", 5.0), ("10", 5.0), ("x", 7.0)]
    assert log.catalog == ("9", "10", "100", "x")
    assert log.n_interactions == 4
    assert sorted(["b", "10", "9", "a"], key=movie_order) == ["9", "10", "a", "b"]


def test_load_dynamodb_reads_the_ingested_histories(isolated: Settings, tables: Tables) -> None:
    save_histories(tables, {
        7: {"heat+1995": HistoryState(frozenset({1, 2, 3}), 90, first_seen=100, last_seen=200),
            "sabrina+1995": HistoryState(rating=4, first_seen=50, last_seen=60)},
        8: {"heat+1995": HistoryState(first_seen=10, last_seen=10)},
    })
    tables.movies("toy+story+1995", "movielog-0").save()
    tables.movies("toy+story+1995", "movielog-1").save()  # two shards, one movie
    log = load_dynamodb(isolated)
    assert log.source == "dynamodb"
    assert [i.movie_id for i in log.users[7]] == ["sabrina+1995", "heat+1995"]
    assert log.users[7][0].rating == 4.0 and log.users[7][1].watch_count == 3
    assert set(log.catalog) == {"heat+1995", "sabrina+1995", "toy+story+1995"}
