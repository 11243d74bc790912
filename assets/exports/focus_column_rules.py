"""The FOCUS 1.2 requirements of single columns and of columns together, quoted from their column pages."""

from __future__ import annotations

from assets.exports.focus_requirement import RELATION, Requirement
from assets.exports.focus_vocabulary import (
    CHARGE_CATEGORIES,
    CHARGE_FREQUENCIES,
    service_categories,
    service_subcategories,
)
from assets.ingest.units import BARE_SINGULAR_TIME, UNIT_FORMAT
from warehouse.lake import sql_values


def _unit(column: str) -> str:
    return (
        f"{column} IS NOT NULL AND (NOT regexp_matches({column}, '{UNIT_FORMAT}') "
        f"OR regexp_matches({column}, '{BARE_SINGULAR_TIME}'))"
    )


def _pairs() -> str:
    return ", ".join(f"('{c}', '{s}')" for s, c in service_subcategories().items())


def requirements_between_columns() -> list[Requirement]:
    """The requirements of single columns and of columns together, quoted from their column pages."""
    usage = "ChargeCategory = 'Usage'"
    not_correction = "ChargeClass IS DISTINCT FROM 'Correction'"
    return [
        Requirement(
            "BilledCost.third_party",
            "BilledCost MUST be 0 for charges where payments are received by a third party (e.g., "
            "marketplace transactions).",
            "MUST",
            "InvoiceIssuerName <> ProviderName AND BilledCost <> 0",
            breaks={"InvoiceIssuerName": "A Reseller Ltd"},
        ),
        Requirement(
            "BillingAccountId.unique_within_provider",
            "BillingAccountId MUST be a unique identifier within a provider.",
            "MUST",
            f"(ProviderName, BillingAccountId) IN (SELECT (ProviderName, BillingAccountId) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT BillingAccountName) > 1)",
            breaks={"BillingAccountName": "Another account under the same id"},
        ),
        Requirement(
            "BillingCurrency.currency_format",
            "Currency-related columns MUST be represented as a three-letter alphabetic code as dictated "
            "in the governing document ISO 4217:2015 when the value is presented in national currency.",
            "MUST",
            "NOT regexp_matches(BillingCurrency, '^[A-Z]{3}$')",
            breaks={"BillingCurrency": "rmb"},
        ),
        Requirement(
            "BillingPeriod.bounds",
            "BillingPeriodStart MUST be the inclusive start bound of the billing period. BillingPeriodEnd "
            "MUST be the exclusive end bound of the billing period.",
            "MUST",
            "BillingPeriodStart >= BillingPeriodEnd",
            breaks={"BillingPeriodEnd": "1999-01-01T00:00:00Z"},
        ),
        Requirement(
            "ChargePeriod.bounds",
            "ChargePeriodStart MUST be the inclusive start bound of the effective period of the charge. "
            "ChargePeriodEnd MUST be the exclusive end bound of the effective period of the charge.",
            "MUST",
            "ChargePeriodStart >= ChargePeriodEnd",
            breaks={"ChargePeriodEnd": "1999-01-01T00:00:00Z"},
        ),
        Requirement(
            "ChargeCategory.allowed_values",
            "ChargeCategory MUST be one of the allowed values.",
            "MUST",
            f"ChargeCategory NOT IN ({sql_values(CHARGE_CATEGORIES)})",
            breaks={"ChargeCategory": "Fee"},
        ),
        Requirement(
            "ChargeClass.allowed_values",
            'ChargeClass MUST be "Correction" when ChargeClass is not null.',
            "MUST",
            "ChargeClass <> 'Correction'",
            breaks={"ChargeClass": "Refund"},
        ),
        Requirement(
            "ChargeDescription.not_null",
            "ChargeDescription SHOULD NOT be null.",
            "SHOULD",
            "ChargeDescription IS NULL",
            breaks={"ChargeDescription": None},
        ),
        Requirement(
            "ChargeFrequency.allowed_values",
            "ChargeFrequency MUST be one of the allowed values.",
            "MUST",
            f"ChargeFrequency NOT IN ({sql_values(CHARGE_FREQUENCIES)})",
            breaks={"ChargeFrequency": "Daily"},
        ),
        Requirement(
            "ChargeFrequency.purchase",
            'ChargeFrequency MUST NOT be "Usage-Based" when ChargeCategory is "Purchase".',
            "MUST",
            "ChargeFrequency = 'Usage-Based' AND ChargeCategory = 'Purchase'",
            breaks={"ChargeCategory": "Purchase", "ChargeFrequency": "Usage-Based"},
        ),
        Requirement(
            "ConsumedQuantity.null_unless_usage",
            'ConsumedQuantity MUST be null when ChargeCategory is not "Usage".',
            "MUST",
            f"ConsumedQuantity IS NOT NULL AND NOT {usage}",
            breaks={"ChargeCategory": "Credit", "ConsumedQuantity": 1},
        ),
        Requirement(
            "ConsumedQuantity.usage_not_null",
            'When ChargeCategory is "Usage" and CommitmentDiscountStatus is not "Unused", '
            'ConsumedQuantity MUST NOT be null when ChargeClass is not "Correction".',
            "MUST",
            f"ConsumedQuantity IS NULL AND {usage} AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "ConsumedQuantity": None},
        ),
        Requirement(
            "ConsumedUnit.nullability",
            "ConsumedUnit MUST be null when ConsumedQuantity is null. ConsumedUnit MUST NOT be null when "
            "ConsumedQuantity is not null.",
            "MUST",
            "(ConsumedUnit IS NULL) <> (ConsumedQuantity IS NULL)",
            breaks={"ConsumedQuantity": 1, "ConsumedUnit": None},
        ),
        Requirement(
            "ConsumedUnit.unit_format",
            "ConsumedUnit SHOULD conform to UnitFormat requirements.",
            "SHOULD",
            _unit("ConsumedUnit"),
            breaks={"ConsumedUnit": "GPU-Hour"},
        ),
        *[
            Requirement(
                f"{cost}.credit_matches_billed",
                f"{cost} of a charge unrelated to other charges (e.g., when the ChargeCategory is "
                '"Credit") MUST match the BilledCost.',
                "MUST",
                f"ChargeCategory = 'Credit' AND {cost} <> BilledCost",
                breaks={"ChargeCategory": "Credit", "BilledCost": -1, cost: 0},
            )
            for cost in ("ContractedCost", "EffectiveCost", "ListCost")
        ],
        Requirement(
            "InvoiceId.billing_account",
            "InvoiceId MUST be associated with the related charge and BillingAccountId when a "
            "pre-generated invoice or provisional invoice exists.",
            "MUST",
            f"InvoiceId IN (SELECT InvoiceId FROM {RELATION} GROUP BY ALL "
            "HAVING count(DISTINCT BillingAccountId) > 1)",
            breaks={"BillingAccountId": "another-account"},
        ),
        Requirement(
            "InvoiceId.not_null",
            "InvoiceId MUST NOT be null when the charge is associated with either an issued invoice or a "
            "pre-generated provisional invoice.",
            "MUST",
            "InvoiceId IS NULL",
            breaks={"InvoiceId": None},
        ),
        Requirement(
            "PricingQuantity.tax",
            'PricingQuantity MUST be null when ChargeCategory is "Tax".',
            "MUST",
            "PricingQuantity IS NOT NULL AND ChargeCategory = 'Tax'",
            breaks={"ChargeCategory": "Tax", "PricingQuantity": 1},
        ),
        Requirement(
            "PricingQuantity.usage_purchase",
            'PricingQuantity MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and '
            'ChargeClass is not "Correction".',
            "MUST",
            f"PricingQuantity IS NULL AND ChargeCategory IN ('Usage', 'Purchase') AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "PricingQuantity": None},
        ),
        Requirement(
            "PricingUnit.nullability",
            "PricingUnit MUST be null when PricingQuantity is null. PricingUnit MUST NOT be null when "
            "PricingQuantity is not null.",
            "MUST",
            "(PricingUnit IS NULL) <> (PricingQuantity IS NULL)",
            breaks={"PricingQuantity": 1, "PricingUnit": None},
        ),
        Requirement(
            "PricingUnit.unit_format",
            "PricingUnit SHOULD conform to UnitFormat requirements.",
            "SHOULD",
            _unit("PricingUnit"),
            breaks={"PricingUnit": "GPU-Hour"},
        ),
        Requirement(
            "RegionName.nullability",
            "RegionName MUST be null when RegionId is null. RegionName MUST NOT be null when RegionId is "
            "not null.",
            "MUST",
            "(RegionName IS NULL) <> (RegionId IS NULL)",
            breaks={"RegionId": "sh-lingang", "RegionName": None},
        ),
        Requirement(
            "ServiceCategory.allowed_values",
            "ServiceCategory MUST be one of the allowed values.",
            "MUST",
            f"ServiceCategory NOT IN ({sql_values(service_categories())})",
            breaks={"ServiceCategory": "GPU"},
        ),
        Requirement(
            "ServiceSubcategory.allowed_values",
            "ServiceSubcategory MUST be one of the allowed values. ServiceSubcategory MUST have one and "
            "only one parent ServiceCategory as specified in the allowed values.",
            "MUST",
            f"(ServiceCategory, ServiceSubcategory) NOT IN ({_pairs()})",
            breaks={"ServiceSubcategory": "Generative AI", "ServiceCategory": "Compute"},
        ),
        Requirement(
            "ServiceName.one_category",
            "ServiceName MUST have one and only one ServiceCategory that best aligns with its primary "
            "purpose.",
            "MUST",
            f"(ProviderName, ServiceName) IN (SELECT (ProviderName, ServiceName) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT ServiceCategory) > 1)",
            breaks={"ServiceCategory": "Other", "ServiceSubcategory": "Other (Other)"},
        ),
        Requirement(
            "ServiceName.one_subcategory",
            "ServiceName SHOULD have one and only one ServiceSubcategory that best aligns with its primary "
            "purpose.",
            "SHOULD",
            f"(ProviderName, ServiceName) IN (SELECT (ProviderName, ServiceName) FROM {RELATION} "
            "GROUP BY ALL HAVING count(DISTINCT ServiceSubcategory) > 1)",
            breaks={"ServiceCategory": "Other", "ServiceSubcategory": "Other (Other)"},
        ),
        Requirement(
            "SkuId.tax",
            'SkuId MUST be null when ChargeCategory is "Tax".',
            "MUST",
            "SkuId IS NOT NULL AND ChargeCategory = 'Tax'",
            breaks={"ChargeCategory": "Tax", "SkuId": "x"},
        ),
        Requirement(
            "SkuId.usage_purchase",
            'SkuId MUST NOT be null when ChargeCategory is "Usage" or "Purchase" and ChargeClass is not '
            '"Correction".',
            "MUST",
            f"SkuId IS NULL AND ChargeCategory IN ('Usage', 'Purchase') AND {not_correction}",
            breaks={"ChargeCategory": "Usage", "ChargeClass": None, "SkuId": None},
        ),
        Requirement(
            "SubAccountName.nullability",
            "SubAccountName MUST be null when SubAccountId is null. SubAccountName MUST NOT be null when "
            "SubAccountId is not null.",
            "MUST",
            "(SubAccountName IS NULL) <> (SubAccountId IS NULL)",
            breaks={"SubAccountId": "t-x", "SubAccountName": None},
        ),
    ]
