"""The AppView's read SQL helpers on SQLite and PostgreSQL: ``IN`` lists padded to powers of two
(same results, few statement texts) and several ``IN`` queries sent as ``UNION ALL``
statements, split when they would exceed the parameter budget."""

from __future__ import annotations

from sonet.storage.appview_read_sql import (
    Reader,
    Steps,
    fetch_in,
    fetch_in_union,
    padded,
    run_write,
)
from sonet.storage.appview_steps import Query, execute, execute_many
from sonet.storage.database import Database


def test_padded_lists_keep_their_values() -> None:
    assert padded(["a"]) == ["a"]
    assert padded(["a", "b", "c"]) == ["a", "b", "c", "c"]
    assert len(padded([str(n) for n in range(257)])) == 512
    assert len(padded([str(n) for n in range(256)])) == 256


def _fill() -> Steps[None]:
    yield from execute("CREATE TABLE pairs (k TEXT NOT NULL, v TEXT NOT NULL)")
    yield from execute_many(
        "INSERT INTO pairs (k, v) VALUES (?, ?)",
        [(f"k{n}", f"v{n % 7}") for n in range(3000)],
    )


async def test_in_lists_and_unions_on_both_databases(database: Database) -> None:
    await run_write(database, _fill())
    reader = Reader(database)
    keys = [f"k{n}" for n in range(0, 3000, 3)]  # 1000 keys: two chunks, padded
    statements: list[str] = []

    def counted(steps: Steps[list[tuple[object, ...]]]) -> Steps[list[tuple[object, ...]]]:
        try:
            query: Query = next(steps)
            while True:
                statements.append(query.sql)
                query = steps.send((yield query))
        except StopIteration as stop:
            result: list[tuple[object, ...]] = stop.value
            return result

    try:
        rows = await reader.run(counted(fetch_in("SELECT k FROM pairs WHERE k IN ({marks})", keys)))
        assert sorted(str(r[0]) for r in rows) == sorted(keys)
        assert len(statements) == 2
        statements.clear()
        many = [f"k{n}" for n in range(2000)]  # four chunks per branch
        branches = [
            (f"SELECT {n}, k FROM pairs WHERE v = ? AND k IN ({{marks}})", (f"v{n}",), many)
            for n in range(7)
        ]
        rows = await reader.run(counted(fetch_in_union([*branches, (branches[0][0], ("v0",), [])])))
        expected = sorted((n, k) for k in many for n in range(7) if int(k[1:]) % 7 == n)
        assert sorted((int(str(n)), str(k)) for n, k in rows) == expected
        # 28 parts of 1 + 512 parameters: 15 fit in the first statement, 13 in the second
        assert [s.count("?") for s in statements] == [15 * 513, 13 * 513]
        assert all(s.count(" UNION ALL ") == s.count("SELECT") - 1 for s in statements)
    finally:
        await reader.close()
