"""Domain checks shared by the API serializers and the admin's model forms (``clean()``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from storesync.constants import (
    ACTION_ALIASES,
    ALLOWED_DELETE_POLICIES,
    ALLOWED_DIRECTIONS,
    SYNCABLE_FIELDS,
    EntityType,
    FilterOperator,
    RuleAction,
    RuleCondition,
)
from storesync.values import as_number


def check_entity_type(entity_type: str) -> None:
    if entity_type not in SYNCABLE_FIELDS:
        raise ValidationError(f"Unknown entity type {entity_type!r}; use one of {', '.join(EntityType)}.")


def check_fields(entity_type: str, fields: list[str], *, key: str = "fields") -> None:
    unknown = [name for name in fields if name not in SYNCABLE_FIELDS[entity_type]]
    if unknown:
        raise ValidationError(
            {
                key: (
                    f"Not syncable for {entity_type}: {', '.join(map(str, unknown))}. "
                    f"Syncable fields: {', '.join(SYNCABLE_FIELDS[entity_type])}."
                )
            }
        )
    if len(set(fields)) != len(fields):
        raise ValidationError({key: "A field is listed twice."})


def check_direction(entity_type: str, direction: str) -> None:
    if direction not in ALLOWED_DIRECTIONS[entity_type]:
        raise ValidationError(
            {
                "direction": (
                    f"{entity_type} can only sync {' or '.join(ALLOWED_DIRECTIONS[entity_type])}: "
                    "the shop's webservice takes no order writes."
                )
            }
        )


def check_delete_policy(entity_type: str, policy: str) -> None:
    allowed = ALLOWED_DELETE_POLICIES[entity_type]
    if policy in allowed:
        return
    if policy not in ALLOWED_DELETE_POLICIES[EntityType.PRODUCTS]:
        reason = f"Unknown delete policy; use one of {', '.join(ALLOWED_DELETE_POLICIES[EntityType.PRODUCTS])}."
    elif entity_type == EntityType.ORDERS:
        reason = "orders can only ignore deletes: the shop takes no order writes and the sync deletes no orders."
    else:
        reason = (
            f"{entity_type} cannot be deactivated: the platform's {entity_type} have no active flag "
            f"(use one of {', '.join(allowed)})."
        )
    raise ValidationError({"delete_policy": reason})


def normalize_action(action: str) -> str:
    return ACTION_ALIASES.get(action, action)


def check_rule(entity_type: str, field: str, condition: str, action: str) -> None:
    check_entity_type(entity_type)
    check_fields(entity_type, [field], key="field")
    if condition not in set(RuleCondition):
        raise ValidationError({"condition": f"Unknown condition; use one of {', '.join(RuleCondition)}."})
    if normalize_action(action) not in set(RuleAction):
        raise ValidationError({"action": f"Unknown action; use one of {', '.join(RuleAction)}."})
    if normalize_action(action) in (RuleAction.USE_HIGHEST_VALUE, RuleAction.USE_LOWEST_VALUE) and field in (
        "customer_info",
    ):
        raise ValidationError({"action": "Highest and lowest values compare numbers or text, not objects."})


def check_filter(entity_type: str, field: str, operator: str, value: Any) -> None:
    check_entity_type(entity_type)
    check_fields(entity_type, [field], key="field")
    if operator not in set(FilterOperator):
        raise ValidationError({"operator": f"Unknown operator; use one of {', '.join(FilterOperator)}."})
    if operator == FilterOperator.IN:
        if not isinstance(value, list) or not value:
            raise ValidationError({"value": "The 'in' operator takes a non-empty list."})
        if any(isinstance(item, (dict, list)) for item in value):
            raise ValidationError({"value": "The 'in' operator takes a list of numbers or strings."})
    elif operator in (FilterOperator.GREATER_THAN, FilterOperator.LESS_THAN):
        if (
            isinstance(value, (dict, list, bool))
            or value is None
            or (field in ("price", "inventory", "total") and as_number(value) is None)
        ):
            raise ValidationError({"value": f"'{operator}' takes a number (or text for text fields)."})
    elif isinstance(value, (dict, list)):
        raise ValidationError({"value": f"'{operator}' takes a number or a string."})
