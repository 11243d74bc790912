"""A home written by the previous lake layout is never half-read: the refresh says how to rebuild it from
landing, and does so when asked."""

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import Deployment

pytestmark = pytest.mark.slow  # rebuilds a small demo lakehouse from landing


def test_a_home_of_the_previous_layout_is_rebuilt_from_landing_when_asked(fresh: Deployment) -> None:
    home = fresh.settings.home
    (home / "warehouse.duckdb").write_bytes(b"a DuckDB file of the previous layout")
    (home / "lake" / "ref").mkdir(parents=True)
    (home / "lake" / "ref" / "chips.parquet").write_bytes(b"PAR1")
    runner = CliRunner()
    with fresh.environment():
        refused = runner.invoke(main, ["refresh", "--select", "key:ref/chips"])
        assert refused.exit_code != 0
        assert "--rebuild-from-landing" in refused.output and "previous lake layout" in refused.output
        assert not fresh.settings.lake.exists(), "nothing is written next to the old files"
        rebuilt = runner.invoke(main, ["refresh", "--select", "key:ref/chips", "--rebuild-from-landing"])
    assert rebuilt.exit_code == 0, rebuilt.output
    (aside,) = home.glob("previous-layout-*")
    assert (aside / "warehouse.duckdb").exists() and (aside / "lake" / "ref" / "chips.parquet").exists()
    assert not (home / "warehouse.duckdb").exists()
    assert fresh.query("SELECT count(*) FROM ref.chips")[0][0] > 0
