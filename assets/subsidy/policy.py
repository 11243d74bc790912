"""The subsidy policy: programmes, funder tiers, caps and eligibility, loaded strictly from YAML."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from assets.yaml_documents import Strict, load_yaml_model

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = REPO_ROOT / "data_contracts" / "policy" / "subsidy_policy.yaml"
CHARGE_CATEGORIES = frozenset({"Usage", "Purchase", "Tax", "Credit", "Adjustment"})
ANY_FUNDER = "*"
Ratio = Annotated[Decimal, Field(gt=0, le=1, decimal_places=6)]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


class Tier(Strict):
    """One funder's share of a programme: which vouchers, what ratio of a line, what annual cap."""

    rule: str = Field(min_length=1, description="name recorded on every attribution this tier allows")
    funders: list[str] = Field(min_length=1, description="voucher funder values; '*' takes any other funder")
    max_ratio: Ratio
    annual_cap: Decimal | None = Field(None, gt=0, decimal_places=4, description="per tenant and year, CNY")

    @field_validator("funders")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("funders repeat")
        return value


class Programme(Strict):
    """A voucher programme: eligible categories, its funder tiers in order, line ratio and duration."""

    categories: list[str] = Field(min_length=1)
    max_line_ratio: Ratio = Decimal(1)
    max_duration_months: int | None = Field(None, ge=1, description="from the tenant's first subsidised use")
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_fit(self) -> Programme:
        funders = [f for tier in self.tiers for f in tier.funders]
        if len(set(funders)) != len(funders):
            raise ValueError("a funder appears in more than one tier")
        for tier in self.tiers:
            if tier.max_ratio > self.max_line_ratio:
                raise ValueError(f"tier {tier.rule!r}: max_ratio above the programme's max_line_ratio")
        return self


class Policy(Strict):
    """A whole subsidy policy; programmes apply in file order, tiers within a programme in list order."""

    name: str
    description: str = ""
    currency: str = Field(pattern="^[A-Z]{3}$")
    timezone: str
    service_categories: dict[str, str] = Field(min_length=1, description="FOCUS ServiceCategory -> category")
    service_subcategories: dict[str, str] = Field(
        default_factory=dict,
        description="FOCUS ServiceSubcategory -> category, deciding before service_categories (e.g. Generative "
        "AI: model_api, so that model-API tokens are not rented compute)",
    )
    paid_charge_categories: list[str] = Field(min_length=1)
    exclude_affiliated_providers: bool = True
    affiliations: Path | None = Field(None, description="CSV tenant_id,provider_id,relation")
    programmes: dict[str, Programme] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("paid_charge_categories")
    @classmethod
    def _focus_categories(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - CHARGE_CATEGORIES)
        if unknown:
            raise ValueError(f"not FOCUS charge categories: {unknown}")
        if "Credit" in value:
            raise ValueError("credits are never paid charges")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        known = {*self.service_categories.values(), *self.service_subcategories.values()}
        rules = []
        for name, programme in self.programmes.items():
            missing = sorted(set(programme.categories) - known)
            if missing:
                raise ValueError(
                    f"programme {name!r}: categories {missing} are not in service_categories or service_subcategories"
                )
            rules += [tier.rule for tier in programme.tiers]
        if len(set(rules)) != len(rules):
            raise ValueError("tier rules must be unique across programmes")
        return self

    def tiers(self) -> list[tuple[str, Programme, Tier]]:
        """Every (programme name, programme, tier) in the order they apply to a line."""
        return [(name, p, tier) for name, p in self.programmes.items() for tier in p.tiers]


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    """Parse and validate a policy file; the affiliations path becomes absolute and must exist."""
    policy = load_yaml_model(path, Policy, PolicyError, "policy")
    if policy.affiliations is None:
        return policy
    affiliations = (path.parent / policy.affiliations).resolve()
    if not affiliations.is_file():
        raise PolicyError(f"{path}: affiliations: no file {affiliations}")
    return policy.model_copy(update={"affiliations": affiliations})
