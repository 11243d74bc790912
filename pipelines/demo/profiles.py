"""What each provider with a usage feed sells: sites, chip names, job sizes and volume."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chip:
    """A chip as the provider names it, with its catalogue model and relative popularity."""

    alias: str
    chip_model: str
    weight: float
    domestic: bool = False


@dataclass(frozen=True)
class FeedProfile:
    """Generation parameters of one provider's usage feed."""

    provider_id: str
    sites: tuple[str, ...]
    site_weights: tuple[float, ...]
    chips: tuple[Chip, ...]
    domestic_share: tuple[float, float]  # share of jobs on domestic chips at day 0 and at day 120
    cards: tuple[int, ...]
    card_weights: tuple[float, ...]
    rows_per_day: float  # expected charge lines per day at scale 1 with the average tenant mix
    utc_days: bool = False  # day boundaries in UTC instead of Asia/Shanghai
    hourly: bool = False  # one charge line per clock hour instead of per day
    migrant_chips: tuple[str, ...] = ()  # aliases used by the migrating tenants (H800 first, then A100)

    @property
    def chip_models(self) -> tuple[str, ...]:
        """chip_model of each chip, in chip order."""
        return tuple(c.chip_model for c in self.chips)


_CARDS = (1, 2, 4, 8, 16, 32, 64)
_CARD_WEIGHTS = (0.2, 0.18, 0.2, 0.27, 0.08, 0.05, 0.02)

TELECOM = FeedProfile(
    "telecom_sh",
    ("lingang", "songjiang"),
    (0.7, 0.3),
    (
        Chip("H800-SXM5", "H800", 0.4),
        Chip("A100-SXM4-80GB", "A100", 0.45),
        Chip("H20-96G", "H20", 0.15),
        Chip("昇腾910B2", "Ascend910B", 0.5, True),
        Chip("Ascend 910B", "Ascend910B", 0.5, True),
    ),
    (0.2, 0.55),
    _CARDS,
    _CARD_WEIGHTS,
    rows_per_day=265.0,
    migrant_chips=("H800-SXM5", "A100-SXM4-80GB"),
)
UNICOM = FeedProfile(
    "unicom_sh",
    ("lingang", "songjiang"),
    (0.6, 0.4),
    (
        Chip("A100", "A100", 0.55),
        Chip("H800", "H800", 0.45),
        Chip("Ascend 910B", "Ascend910B", 0.6, True),
        Chip("910B3", "Ascend910B", 0.4, True),
    ),
    (0.3, 0.55),
    _CARDS,
    _CARD_WEIGHTS,
    rows_per_day=140.0,
)
MOBILE = FeedProfile(
    "mobile_sh",
    ("songjiang", "qingpu"),
    (0.7, 0.3),
    (Chip("A100", "A100", 0.6), Chip("H20", "H20", 0.4), Chip("910B", "Ascend910B", 1.0, True)),
    (0.45, 0.7),
    _CARDS,
    _CARD_WEIGHTS,
    rows_per_day=140.0,
)
VOLCANO = FeedProfile(
    "volcano_engine",
    ("lingang", "qingpu"),
    (0.65, 0.35),
    (
        Chip("H800", "H800", 0.35),
        Chip("A100", "A100", 0.35),
        Chip("L40S", "L40S", 0.15),
        Chip("H20", "H20", 0.15),
    ),
    (0.0, 0.0),
    (1, 2, 4, 8),
    (0.25, 0.2, 0.2, 0.35),
    rows_per_day=200.0,
    utc_days=True,
    hourly=True,
    migrant_chips=("H800", "A100"),
)
INFINIGENCE = FeedProfile(
    "infinigence",
    ("qingpu", "lingang"),
    (0.6, 0.4),
    (
        Chip("A100-80G", "A100", 0.6),
        Chip("H20-96G", "H20", 0.4),
        Chip("Ascend 910B2", "Ascend910B", 0.35, True),
        Chip("910B", "Ascend910B", 0.25, True),
        Chip("MLU370-X8", "MLU370-X8", 0.15, True),
        Chip("BR104", "BR104", 0.12, True),
        Chip("MTT S4000", "MTT-S4000", 0.13, True),
    ),
    (0.5, 0.75),
    _CARDS,
    _CARD_WEIGHTS,
    rows_per_day=140.0,
)

FEED_PROFILES: tuple[FeedProfile, ...] = (TELECOM, INFINIGENCE, VOLCANO, UNICOM, MOBILE)
FEED_IDS: tuple[str, ...] = tuple(p.provider_id for p in FEED_PROFILES)
