"""Invalid attribution values fail at the call site with a message naming the key and the rule."""

from __future__ import annotations

from typing import Any

import pytest

import costline

VALID = ["support", "customer_support", "team/app:v2", "ana+test@example.com", "A-1.b_2", "x" * 128]

RULE = "may contain only letters, digits and . _ - : / @ +"
# (arguments, text the error message must contain)
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"workflow_id": ""}, "workflow_id must not be empty"),
    ({"workflow_id": 42}, "workflow_id must be a str (got int)"),
    ({"workflow_id": None}, "workflow_id must be a str (got NoneType)"),
    ({"workflow_id": "x" * 300}, "workflow_id must be at most 128 characters (got 300)"),
    (
        {"workflow_id": "support", "tenant_id": "x" * 129},
        "tenant_id must be at most 128 characters (got 129)",
    ),
    ({"workflow_id": "customer support"}, f"workflow_id {RULE} (got ' ' in 'customer support')"),
    ({"workflow_id": "support", "feature_id": "a,b"}, f"feature_id {RULE} (got ','"),
    ({"workflow_id": "support", "user_id": "ana=x"}, f"user_id {RULE} (got '='"),
    ({"workflow_id": "support", "tenant_id": "acme;x"}, f"tenant_id {RULE} (got ';'"),
    ({"workflow_id": "café"}, f"workflow_id {RULE} (got 'é'"),
    ({"workflow_id": "support", "feature_id": ""}, "feature_id must not be empty"),
    ({"workflow_id": "support", "user_id": b"bytes"}, "user_id must be a str (got bytes)"),
]


@pytest.mark.parametrize("value", VALID)
def test_valid_values_are_accepted_for_every_key(value: str) -> None:
    with costline.workflow(value, feature_id=value, tenant_id=value, user_id=value):
        assert set(costline.current_attribution().values()) == {value}


@pytest.mark.parametrize(("kwargs", "message"), INVALID)
def test_invalid_values_raise_value_error_naming_key_and_rule(kwargs: dict[str, Any], message: str) -> None:
    kwargs = dict(kwargs)
    workflow_id = kwargs.pop("workflow_id")
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - the message is checked below
        costline.workflow(workflow_id, **kwargs)
    assert message in str(raised.value)
    assert costline.current_attribution() == {}


def test_invalid_value_in_decorator_fails_at_decoration() -> None:
    with pytest.raises(ValueError, match="workflow_id must not be empty"):

        @costline.workflow("")
        def job() -> None:
            pass
