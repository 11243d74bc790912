"""What each dashboard page shows: datasets queried from the published warehouse, charts, tables and figures.

A dataset is a SQL query at the finest grain the page's filters need; the browser filters and sums it. Its
`date`, `tenant`, `provider` and `series` name the columns the page's filters apply to (None: not filtered);
`sample` says how its rows are told apart as reference samples' (meta.sources), which the page leaves out unless
asked. Headline figures are measures over a dataset, computed in the browser under the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assets.dictionary.sources import SAMPLE_KEY_TABLES, SampleKey

# Columns whose ids have a name in the reference tables (shown beside the id; the Chinese name where there is one).
NAMED_COLUMNS = {
    "tenant_id": "tenant",
    "provider_id": "provider",
    "site_id": "site",
    "site": "site",
}


@dataclass(frozen=True)
class Dataset:
    """Rows embedded in a page, and the columns its filters act on."""

    sql: str
    needs: tuple[str, ...]
    date: str | None = None
    tenant: str | None = None
    provider: str | None = None
    series: str | None = None
    sample: tuple[SampleKey, str] | None = None

    @property
    def tables(self) -> tuple[str, ...]:
        """The warehouse tables the dataset reads (meta.sources and what tells samples apart included)."""
        if self.sample is None:
            return self.needs
        return tuple(dict.fromkeys((*self.needs, "meta.sources", *SAMPLE_KEY_TABLES[self.sample[0]])))


@dataclass(frozen=True)
class Measure:
    """A value over rows: the sum of `col`, the ratio sum(num) / sum(den), or the count of distinct `distinct`."""

    label: str
    col: str | None = None
    num: str | None = None
    den: str | None = None
    distinct: str | None = None


@dataclass(frozen=True)
class Chart:
    """A chart over one dataset: kind line, bar (stacked), hbar, area, band (forecast) or sankey."""

    id: str
    title: str
    dataset: str
    kind: str
    x: str | None = None
    y: tuple[Measure, ...] = ()
    by: str | None = None
    unit: str = ""
    note: str = ""
    where: dict | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TableView:
    """A table of dataset rows (largest `sort` first)."""

    id: str
    title: str
    dataset: str
    columns: tuple[str, ...]
    sort: str | None = None
    limit: int = 200
    note: str = ""
    group: tuple[str, ...] = ()
    top: int | None = None


@dataclass(frozen=True)
class Figure:
    """A headline figure: a measure over one dataset's rows under the page's filters, with its format."""

    key: str
    label: str
    dataset: str
    value: Measure
    digits: int = 0
    percent: bool = False

    @classmethod
    def total(cls, key: str, label: str, dataset: str, col: str, digits: int = 0) -> Figure:
        """The sum of `col`."""
        return cls(key, label, dataset, Measure("", col=col), digits)

    @classmethod
    def ratio(
        cls, key: str, label: str, dataset: str, num: str, den: str, digits: int = 0, percent: bool = False
    ) -> Figure:
        """The ratio sum(num) / sum(den)."""
        return cls(key, label, dataset, Measure("", num=num, den=den), digits, percent)

    @classmethod
    def distinct(cls, key: str, label: str, dataset: str, col: str) -> Figure:
        """The count of distinct values of `col`."""
        return cls(key, label, dataset, Measure("", distinct=col))


@dataclass(frozen=True)
class Page:
    """One dashboard page."""

    name: str
    title: str
    summary: str
    datasets: dict[str, Dataset]
    charts: tuple[Chart, ...] = ()
    tables: tuple[TableView, ...] = ()
    figures: tuple[Figure, ...] = ()

    @property
    def needs(self) -> tuple[str, ...]:
        """Every warehouse table the page reads."""
        return tuple(dict.fromkeys(t for d in self.datasets.values() for t in d.tables))
