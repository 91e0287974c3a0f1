"""Dates read as French writes them: the first letter capitalized, the month in lower case."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from . import factories as f


@pytest.mark.parametrize("fmt,expected", [("l j F", "Mardi 3 mars"), ("D j N", "Mar 3 mars")])
def test_day_headings_are_french_sentence_case(fmt: str, expected: str) -> None:
    with translation.override("fr"):
        out = Template('{{ d|date:"' + fmt + '"|capfirst }}').render(Context({"d": f.paris(2026, 3, 3, 9)}))
    assert out == expected
