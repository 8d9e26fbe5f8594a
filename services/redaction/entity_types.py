"""The entity type names of the Private AI API, their parent types and named groups."""

from __future__ import annotations

from collections.abc import Iterable

# Every name the vendor documents; requests may ENABLE/DISABLE any of them even where we detect none.
ENTITY_TYPES: frozenset[str] = frozenset(
    {
        "AGE", "DATE", "DATE_INTERVAL", "DOB", "DRIVER_LICENSE", "EMAIL_ADDRESS", "EVENT", "FILENAME",
        "GENDER_SEXUALITY", "HEALTHCARE_NUMBER", "LOCATION", "LOCATION_ADDRESS", "LOCATION_CITY",
        "LOCATION_STATE", "LOCATION_COUNTRY", "LOCATION_ZIP", "NAME", "NAME_GIVEN", "NAME_FAMILY",
        "ORGANIZATION", "SSN", "NUMERICAL_PII", "PHONE_NUMBER", "URL", "IP_ADDRESS", "BANK_ACCOUNT",
        "CREDIT_CARD", "CREDIT_CARD_EXPIRATION", "CVV", "ROUTING_NUMBER", "ACCOUNT_NUMBER",
        "PASSPORT_NUMBER", "PASSWORD", "VEHICLE_ID",
    }
)  # fmt: skip

# A subtype is always reported with its parent too ("LOCATION_CITY" also scores "LOCATION").
PARENT: dict[str, str] = {
    "NAME_GIVEN": "NAME",
    "NAME_FAMILY": "NAME",
    "LOCATION_ADDRESS": "LOCATION",
    "LOCATION_CITY": "LOCATION",
    "LOCATION_STATE": "LOCATION",
    "LOCATION_COUNTRY": "LOCATION",
    "LOCATION_ZIP": "LOCATION",
    "DOB": "DATE",
}

# HIPAA Safe Harbor identifiers. States and countries are not among them (only smaller areas).
GROUPS: dict[str, frozenset[str]] = {
    "HIPAA_SAFE_HARBOR": frozenset(
        {
            "NAME", "NAME_GIVEN", "NAME_FAMILY", "LOCATION_ADDRESS", "LOCATION_CITY", "LOCATION_ZIP",
            "DATE", "DATE_INTERVAL", "DOB", "AGE", "PHONE_NUMBER", "EMAIL_ADDRESS", "SSN",
            "HEALTHCARE_NUMBER", "ACCOUNT_NUMBER", "BANK_ACCOUNT", "CREDIT_CARD", "DRIVER_LICENSE",
            "PASSPORT_NUMBER", "VEHICLE_ID", "URL", "IP_ADDRESS", "NUMERICAL_PII",
        }
    ),
}  # fmt: skip

# Subtypes that become best_label only when their parent is switched off: the protocol reports a
# name as NAME ("John" and "John" are both NAME_1), the subtypes say which part is which.
MINOR_SUBTYPES: frozenset[str] = frozenset({"NAME_GIVEN", "NAME_FAMILY"})


def is_known(name: str) -> bool:
    return name in ENTITY_TYPES or name in GROUPS


def expand(names: Iterable[str]) -> frozenset[str]:
    """Entity type names with groups replaced by their members."""
    out: set[str] = set()
    for name in names:
        out |= GROUPS.get(name, {name})
    return frozenset(out)


def depth(name: str) -> int:
    """How specific a type is: 0 for a top-level type, 1 for a subtype."""
    return 1 if name in PARENT else 0
