"""A commit of a few rows writes them to a data file: nothing is kept inlined in the catalog, whose tables every
read of such a table would load again."""

import duckdb

from tests.conftest import lake_connection
from warehouse.ducklake import LakeConfig
from warehouse.transactions import commit

INLINED = (
    "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_inlined_data_tables i "
    "JOIN __ducklake_metadata_lake.ducklake_table t USING (table_id) WHERE t.table_name = 'few'"
)
FILES = (
    "SELECT count(*) FROM __ducklake_metadata_lake.ducklake_data_file f "
    "JOIN __ducklake_metadata_lake.ducklake_table t USING (table_id) WHERE t.table_name = 'few'"
)


def test_three_rows_commit_to_a_data_file_not_to_the_catalog(lake: LakeConfig) -> None:
    con: duckdb.DuckDBPyConnection = lake_connection(lake)
    with commit(con, "create"):
        con.execute("CREATE TABLE lake.core.few (n INTEGER)")
    with commit(con, "three rows"):
        con.execute("INSERT INTO lake.core.few VALUES (1), (2), (3)")
    assert con.execute("SELECT sum(n) FROM lake.core.few").fetchone()[0] == 6
    assert con.execute(FILES).fetchone()[0] == 1
    assert con.execute(INLINED).fetchone()[0] == 0
    con.close()
