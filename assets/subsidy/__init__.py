"""Compute-voucher subsidies: the policy (data_contracts/policy) and the attribution of vouchers to charges."""

from .attribution import Columns, attribute, attribute_day, load_affiliations
from .policy import Policy, PolicyError, load_policy

__all__ = [
    "Columns",
    "Policy",
    "PolicyError",
    "attribute",
    "attribute_day",
    "load_affiliations",
    "load_policy",
]
