"""Many rows a statement: the group commit's upserts go out a few thousand rows a
statement (SQLite: padded to a power of two; MariaDB: one JSON array a table) and its
data_received_at marks a few hundred; every row lands as if written one at a time,
every number exactly."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from aerie.rollups import add_points, write_cells
from aerie.schema import DAY, HOUR, MINUTE, ROLLUPS, stats
from aerie.stats import mark_data_received
from tests.conftest import Account, make_stat

STATS = 300  # groups of 256, 32, 8 and 4 rows


def test_hundreds_of_cells_in_one_statement_a_table_add_up_row_by_row(engine: Engine, owner: Account) -> None:
    made = [make_stat(engine, owner, f"grouped {i:03d}", "value") for i in range(STATS)]
    minute = (int(time.time()) // 86400) * 86400 + 3600  # one day, one hour, one minute
    cells: dict[tuple[int, int], list[float]] = {}
    add_points(cells, [(stat.id, minute, float(i)) for i, stat in enumerate(made)])
    add_points(cells, [(made[0].id, minute, 0.1), (made[0].id, minute, 0.2)])  # 0.30000000000000004
    with engine.begin() as conn:
        write_cells(conn, cells)
    again: dict[tuple[int, int], list[float]] = {}  # every row now exists: the update path
    add_points(again, [(stat.id, minute + 1, 1000.0 + i) for i, stat in enumerate(made)])
    with engine.begin() as conn:
        write_cells(conn, again)
    for resolution, table in ROLLUPS:
        bucket = minute - minute % {MINUTE: 60, HOUR: 3600, DAY: 86400}[resolution]
        with engine.connect() as conn:
            rows = {row.stat_id: row for row in conn.execute(
                select(table).where(table.c.stat_id.in_([s.id for s in made])))}
        assert len(rows) == STATS, table.name
        first = rows[made[0].id]
        assert (first.n, first.sum, first.min, first.max) == (4, 1000.0 + (0.1 + 0.2), 0.0,
                                                              1000.0), table.name
        for i, stat in enumerate(made[1:], start=1):
            row = rows[stat.id]
            assert (row.bucket, row.n, row.sum, row.min, row.max) == (
                bucket, 2, 1000.0 + 2 * i, float(i), 1000.0 + i), (table.name, i)


def test_more_minute_cells_than_one_statement_takes_all_land(engine: Engine, owner: Account) -> None:
    made = [make_stat(engine, owner, f"long {i}", "counter") for i in range(3)]
    start = (int(time.time()) // 86400 - 3) * 86400
    minutes = 1500  # 4,500 minute cells: past SQLite's 4,096 rows a statement
    cells: dict[tuple[int, int], list[float]] = {}
    add_points(cells, [(stat.id, start + 60 * m, float(m)) for stat in made for m in range(minutes)])
    with engine.begin() as conn:
        write_cells(conn, cells)
    minute_table, day_table = dict(ROLLUPS)[MINUTE], dict(ROLLUPS)[DAY]
    with engine.connect() as conn:
        minute_rows = conn.execute(select(func.count(), func.sum(minute_table.c.sum)).where(
            minute_table.c.stat_id.in_([s.id for s in made]))).one()
        days = conn.execute(select(day_table.c.bucket, day_table.c.n).where(
            day_table.c.stat_id == made[2].id).order_by(day_table.c.bucket)).all()
    assert tuple(minute_rows) == (3 * minutes, 3 * sum(range(minutes)))
    assert [tuple(day) for day in days] == [(start, 1440), (start + 86400, minutes - 1440)]


def test_hundreds_of_marks_in_groups_set_each_stats_own_time(
    engine: Engine, owner: Account
) -> None:
    made = [make_stat(engine, owner, f"marked {i:03d}", "counter") for i in range(STATS)]
    other = make_stat(engine, owner, "not marked", "counter")
    base = 1_796_000_000
    with engine.begin() as conn:
        mark_data_received(conn, [(stat.id, base + i) for i, stat in enumerate(made)])
    with engine.connect() as conn:
        found = dict(conn.execute(select(stats.c.id, stats.c.data_received_at).where(
            stats.c.id.in_([s.id for s in [*made, other]]))).all())
    assert [found[stat.id] for stat in made] == [base + i for i in range(STATS)]
    assert found[other.id] != base
