"""The results document's fast encoder writes exactly what `json.dumps(value, indent=2)`
writes: results.json, its digest in the HTML and PDF reports, and `auditor verify` all depend
on the same bytes."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from auditor.formatters.base import RenderOptions
from auditor.formatters.json_results import JsonFormatter, results_to_dict
from auditor.json_indent import dumps_indent2
from benchmarks.fleet_results import fleet_results


class Tier(enum.StrEnum):
    GOLD = "gold"


class Level(enum.IntEnum):
    TWO = 2


ODD_VALUES: list[Any] = [
    [],
    {},
    "plain",
    'é ✓ \u2028 "quoted" back\\slash \x00 \t',
    0,
    -7,
    10**30,
    2.5,
    -0.0,
    1e-300,
    float("nan"),
    float("inf"),
    -float("inf"),
    True,
    False,
    None,
    (1, (2, [])),
    {"nested": {"empty list": [], "empty map": {}, "list": [{"a": None}]}},
    {7: "int key", 2.5: "float key", True: "bool key", None: "null key", "s": "str key"},
    {"tier": Tier.GOLD, Tier.GOLD: "enum key", "level": Level.TWO},
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=range(len(ODD_VALUES)))
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_indent2(value) == json.dumps(value, indent=2)


def test_results_document_bytes_unchanged() -> None:
    results = fleet_results(400, 40)
    expected = (json.dumps(results_to_dict(results), indent=2) + "\n").encode()
    assert JsonFormatter().render(results, RenderOptions()) == expected


def test_unencodable_values_are_refused_as_json_dumps_refuses_them() -> None:
    for value in ({"when": object()}, {(1, 2): "tuple key"}):
        with pytest.raises(TypeError):
            json.dumps(value, indent=2)
        with pytest.raises(TypeError):
            dumps_indent2(value)
