"""Shared fixtures: a real demo lakehouse built through Dagster in a temporary COMPUTEFLOW_HOME."""

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from filelock import FileLock

from assets.reference.tables import REF_TABLES, create_ref_views, load_reference_table
from assets.tables import create_lake_tables
from pipelines.definitions import build_definitions
from pipelines.demo import generate_demo
from pipelines.instance import instance_directory
from pipelines.refresh import RefreshOutcome, refresh
from warehouse.ducklake import LakeConfig, attach, connect_reader, offline_config
from warehouse.lake import Location
from warehouse.settings import CONTRACTS_DIR, Settings

DEMO_DAYS = 12
DEMO_SCALE = 0.3


def settings_for(home: Path, sources_dir: Path | None = None) -> Settings:
    """Settings of a deployment rooted at `home`."""
    return Settings(
        home=home,
        landing_url=str(home / "landing"),
        lake_url=str(home / "lake"),
        catalog_url=str(home / "catalog.sqlite"),
        dashboards_path=home / "dashboards",
        dagster_home=home / "dagster",
        sources_dir=sources_dir or CONTRACTS_DIR / "sources",
        partition_start=None,
    )


@dataclass
class Deployment:
    """A lakehouse under test: its settings, Dagster instance and the demo manifest."""

    settings: Settings
    instance: dg.DagsterInstance
    manifest: dict
    # A read-only connection that `query` reuses, for a lakehouse no test changes (the session's demo): a
    # connection of its own per query attaches the catalog again, about 0.35 s (over 1 s on a loaded machine).
    reader: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def environment(self) -> Iterator[None]:
        """The COMPUTEFLOW_* environment that describes this deployment, restored afterwards."""
        values = {
            "COMPUTEFLOW_HOME": str(self.settings.home),
            "COMPUTEFLOW_LANDING_URL": self.settings.landing_url,
            "COMPUTEFLOW_LAKE_URL": self.settings.lake_url,
            "COMPUTEFLOW_CATALOG_URL": self.settings.catalog_url,
            "COMPUTEFLOW_SOURCES_DIR": str(self.settings.sources_dir),
        }
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def definitions(self) -> dg.Definitions:
        """The code location as this deployment loads it."""
        with self.environment():
            return build_definitions()

    def refresh(
        self,
        selection: str | None = None,
        partition: str | None = None,
        full: bool = False,
        checks: bool = True,
    ) -> RefreshOutcome:
        """Materialize through Dagster, as `computeflow refresh` does (what changed, or everything if `full`;
        without the contract checks if not `checks`, for tests whose subject they are not)."""
        with self.environment():
            return refresh(build_definitions(), self.instance, selection, partition, checks=checks, full=full)

    def materializations(self) -> int:
        """How many asset materializations the instance has recorded."""
        kind = dg.DagsterEventType.ASSET_MATERIALIZATION
        return sum(
            len(self.instance.get_records_for_run(r.dagster_run.run_id, of_type=kind, limit=100_000).records)
            for r in self.instance.get_run_records()
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Run a query on the lakehouse's latest snapshot, read-only."""
        if self.reader is not None:
            return self.reader.execute(sql, params or []).fetchall()
        with connect_reader(self.settings.lake) as con:
            return con.execute(sql, params or []).fetchall()


def make_deployment(home: Path, days: int = DEMO_DAYS, scale: float = DEMO_SCALE, **overrides) -> Deployment:
    """Generate demo landing files under `home` and return a deployment with a temporary Dagster instance."""
    settings = replace(settings_for(home), **overrides)
    manifest = generate_demo(settings.landing_url, days=days, scale=scale, seed=7, start=date(2025, 8, 1))
    instance = dg.DagsterInstance.from_config(instance_directory(settings))
    return Deployment(settings, instance, manifest)


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A home under the test run's directory that `build` makes once per run, whichever parallel worker asks
    first (the others wait for it); tests must not modify it."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's directory, above each worker's own
    home, done = root / name, root / f"{name}.done"
    with FileLock(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)  # what an earlier worker's failed attempt left
            build(home)
            done.touch()
    return home


def _refresh_demo(home: Path, checks: bool = True, **demo: object) -> None:
    deployment = make_deployment(home, **demo)
    outcome = deployment.refresh(checks=checks)
    deployment.instance.dispose()
    assert outcome.success, outcome.failures


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A demo lakehouse refreshed once per test run (shared by parallel workers); tests must not modify it."""
    home = built_once(tmp_path_factory, "demo", _refresh_demo)
    settings = settings_for(home)
    manifest = json.loads((Path(settings.landing_url) / "_demo_manifest.json").read_text(encoding="utf-8"))
    instance = dg.DagsterInstance.from_config(instance_directory(settings))
    deployment = Deployment(settings, instance, manifest, reader=connect_reader(settings.lake))
    yield deployment
    deployment.reader.close()
    deployment.instance.dispose()


FRESH_DAYS, FRESH_SCALE = 3, 0.2


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Deployment]:
    """A small demo lakehouse of its own, not yet refreshed, for tests that change things."""
    deployment = make_deployment(tmp_path / "home", days=FRESH_DAYS, scale=FRESH_SCALE)
    yield deployment
    deployment.instance.dispose()


@pytest.fixture(scope="session")
def refreshed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of a small demo lakehouse refreshed once (without contract checks) per test run, shared by
    parallel workers like `demo`; tests read it or copy it (`refreshed`), never modify it."""
    return built_once(
        tmp_path_factory,
        "refreshed",
        lambda home: _refresh_demo(home, checks=False, days=FRESH_DAYS, scale=FRESH_SCALE),
    )


@pytest.fixture
def refreshed(refreshed_template: Path, tmp_path: Path) -> Iterator[Deployment]:
    """A copy of its own of the small demo lakehouse after its first refresh, for tests that change things
    after that refresh: landing zone, lake, catalog and Dagster instance (records and data versions) copied,
    the catalog's data path moved to the copy."""
    home = tmp_path / "home"
    shutil.copytree(refreshed_template, home, symlinks=True)
    settings = settings_for(home)
    with sqlite3.connect(settings.catalog_url) as catalog:
        catalog.execute(
            "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", [settings.lake.data_path()]
        )
    manifest = json.loads((Path(settings.landing_url) / "_demo_manifest.json").read_text(encoding="utf-8"))
    deployment = Deployment(settings, dg.DagsterInstance.from_config(instance_directory(settings)), manifest)
    yield deployment
    deployment.instance.dispose()


def lake_connection(lake: LakeConfig) -> duckdb.DuckDBPyConnection:
    """A writer connection on a lake (tables created, ref_* views in place), as the assets get one."""
    con = duckdb.connect(config=offline_config())
    con.execute("SET TimeZone = 'UTC'")
    attach(con, lake)
    create_lake_tables(con)
    create_ref_views(con)
    return con


def chip_lake(root: Path) -> LakeConfig:
    """A lake (SQLite catalog under `root`) holding the shipped chip tables (no other reference data)."""
    config = LakeConfig(str(root / "catalog.sqlite"), str(root / "lake"))
    with lake_connection(config) as con:
        for name in ("chips", "chip_aliases"):
            load_reference_table(con, REF_TABLES[name], Location(str(root / "landing")))
    return config


@pytest.fixture
def lake(tmp_path: Path) -> LakeConfig:
    """A lake in tmp_path holding the shipped chip tables (no other reference data)."""
    return chip_lake(tmp_path)


@pytest.fixture(autouse=True)
def _no_ambient_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch ./data: anything reading the environment gets a throwaway home."""
    if "COMPUTEFLOW_HOME" not in os.environ:
        monkeypatch.setenv("COMPUTEFLOW_HOME", "/nonexistent/computeflow-test-home")


# Fixtures that build and refresh a demo lakehouse, start a service or drive a browser: a test that uses one is
# `slow` (the whole suite runs it; `make test-fast`, the edit loop, leaves it out).
SLOW_FIXTURES = {
    "demo",
    "fresh",
    "refreshed",
    "refreshed_template",
    "browser",
    "site",
    "postgres",
    "s3_server",
}


_SLOW_MODULE = re.compile(r"^pytestmark = pytest\.mark\.slow\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not slow"` (make test-fast), a module marked slow as a whole is not even imported."""
    if config.getoption("markexpr", "") != "not slow" or collection_path.suffix != ".py":
        return None
    return bool(_SLOW_MODULE.search(collection_path.read_text(encoding="utf-8"))) or None


# Fixtures that refresh a lakehouse of the test's own: each test that uses one costs a refresh.
OWN_REFRESH = {"fresh", "refreshed"}
# Seconds each module took in a whole run on two workers (tests/module_seconds.py writes them from a run's
# --durations=0 report); a module not listed is estimated from its fixtures (_cost).
MODULE_SECONDS: dict[str, float] = json.loads(
    (Path(__file__).with_name("module_seconds.json")).read_text(encoding="utf-8")
)
SECONDS_PER_COST = 5  # about what one unit of _cost takes


def _cost(item: pytest.Item) -> int:
    """A rough cost: 10 for a test that refreshes a lakehouse of its own (by fixture, or in a module marked slow
    as a whole), 1 for one that reads a shared slow fixture, 0 otherwise."""
    fixtures = set(getattr(item, "fixturenames", ()))
    marked = getattr(getattr(item, "module", None), "pytestmark", None)
    if OWN_REFRESH & fixtures or marked is not None:
        return 10
    return int(bool(SLOW_FIXTURES & fixtures))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use a slow fixture as `slow`, and order the modules: first the longest one that
    reads the shared `demo` lakehouse (one worker builds it while the other starts on the modules that refresh
    lakehouses of their own, so no worker later waits for it), then the longest first (measured seconds, else
    the estimate): the workers (a module each at a time) then end on short modules, not one on a long module
    while the other idles."""
    estimate: dict[str, int] = {}
    shared: set[str] = set()
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
        module = item.nodeid.split("::")[0]
        estimate[module] = estimate.get(module, 0) + _cost(item)
        if "demo" in fixtures:
            shared.add(module)
    seconds = {m: MODULE_SECONDS.get(m, SECONDS_PER_COST * c) for m, c in estimate.items()}
    first = max(sorted(shared), key=seconds.__getitem__) if shared else None
    items.sort(key=lambda item: (item.nodeid.split("::")[0] != first, -seconds[item.nodeid.split("::")[0]]))
