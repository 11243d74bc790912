"""The loopback test services work: PostgreSQL, moto S3, and DuckDB (httpfs, DuckLake) against them."""

import socket
from pathlib import Path

import pytest

from tests import services
from tests.services import offline_duckdb, postgres_cluster, s3_server

pytestmark = pytest.mark.slow  # starts PostgreSQL and an S3-protocol server


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def test_postgres_cluster_runs_psql_and_is_removed(tmp_path: Path) -> None:
    with postgres_cluster(tmp_path) as pg:
        assert pg.host == "127.0.0.1"
        assert pg.url == f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.dbname}"
        pg.psql("CREATE TABLE readings (id int PRIMARY KEY, label text)")
        pg.psql("INSERT INTO readings VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        assert pg.psql("SELECT count(*), string_agg(label, ',' ORDER BY id) FROM readings").strip() == (
            "3|one,two,three"
        )
        url = pg.create_database("catalog_db")
        assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/catalog_db"
        assert pg.psql("SELECT current_database()", dbname="catalog_db").strip() == "catalog_db"
        root, port = pg.root, pg.port
        assert _port_open("127.0.0.1", port)
    assert not root.exists()
    assert not _port_open("127.0.0.1", port)


def test_postgres_cluster_without_binaries_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "PG_BIN", tmp_path / "no-postgresql" / "bin")
    with pytest.raises(RuntimeError, match="apt-get install -y postgresql"), postgres_cluster(tmp_path):
        pass


def test_s3_server_counts_requests_by_kind() -> None:
    with s3_server() as s3:
        assert s3.env == {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": s3.endpoint_url,
        }
        assert s3.bucket("counted") == "s3://counted"
        assert s3.requests() == {"PUT": 1}
        s3.reset_counts()
        client = s3.client()
        client.put_object(Bucket="counted", Key="a/b.txt", Body=b"hello")
        client.head_object(Bucket="counted", Key="a/b.txt")
        assert client.get_object(Bucket="counted", Key="a/b.txt")["Body"].read() == b"hello"
        assert client.list_objects_v2(Bucket="counted")["KeyCount"] == 1
        assert s3.requests() == {"PUT": 1, "HEAD": 1, "GET": 1, "LIST": 1}
        port = s3.port
    assert not _port_open("127.0.0.1", port)


def test_duckdb_writes_and_reads_parquet_on_moto_s3(tmp_path: Path) -> None:
    with s3_server() as s3:
        bucket = s3.bucket("parquet-lake")
        con = offline_duckdb(tmp_path / "extensions", ["httpfs"])
        con.execute(
            f"CREATE SECRET moto (TYPE s3, KEY_ID 'testing', SECRET 'testing', "
            f"ENDPOINT '127.0.0.1:{s3.port}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
        )
        s3.reset_counts()
        con.execute(
            f"COPY (SELECT range AS id, range * 2 AS doubled FROM range(1000)) "
            f"TO '{bucket}/usage/part-0.parquet' (FORMAT parquet)"
        )
        assert s3.requests()["PUT"] >= 1
        rows = con.execute(f"SELECT count(*), sum(doubled) FROM read_parquet('{bucket}/usage/*.parquet')")
        assert rows.fetchone() == (1000, 999_000)
        counts = s3.requests()
        assert counts["GET"] >= 1
        assert counts["LIST"] >= 1  # the glob lists the prefix
        keys = [obj["Key"] for obj in s3.client().list_objects_v2(Bucket="parquet-lake")["Contents"]]
        assert keys == ["usage/part-0.parquet"]
        con.close()


def test_ducklake_with_postgres_catalog_and_s3_data(tmp_path: Path) -> None:
    with s3_server() as s3, postgres_cluster(tmp_path) as pg:
        bucket = s3.bucket("ducklake-data")
        pg.create_database("lake_catalog")
        con = offline_duckdb(tmp_path / "extensions", ["httpfs", "postgres_scanner", "ducklake"])
        con.execute(s3.duckdb_secret_sql())
        con.execute(
            f"ATTACH 'ducklake:postgres:dbname=lake_catalog host=127.0.0.1 port={pg.port} user=postgres' "
            f"AS lk (DATA_PATH '{bucket}/lake/')"
        )
        con.execute("CREATE TABLE lk.events AS SELECT range AS id, 'event-' || range AS name FROM range(500)")
        con.execute("INSERT INTO lk.events SELECT range + 500, 'late-' || range FROM range(500)")
        assert con.execute("SELECT count(*), max(id), count(DISTINCT name) FROM lk.events").fetchone() == (
            1000,
            999,
            1000,
        )
        con.close()

        # The catalog is in PostgreSQL, the data files are Parquet on S3.
        assert pg.psql("SELECT table_name FROM ducklake_table", dbname="lake_catalog").split() == ["events"]
        listed = s3.client().list_objects_v2(Bucket="ducklake-data", Prefix="lake/")
        assert listed["KeyCount"] >= 1
        assert all(obj["Key"].endswith(".parquet") for obj in listed["Contents"])

        # A fresh connection reads the same table back through the catalog.
        again = offline_duckdb(tmp_path / "extensions", ["httpfs", "postgres_scanner", "ducklake"])
        again.execute(s3.duckdb_secret_sql())
        again.execute(
            f"ATTACH 'ducklake:postgres:{pg.conninfo('lake_catalog')}' AS lk (DATA_PATH '{bucket}/lake/')"
        )
        assert again.execute("SELECT count(*) FROM lk.events WHERE name LIKE 'late-%'").fetchone() == (500,)
        again.close()
