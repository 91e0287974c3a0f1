from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from creneau.directory.validators import is_valid_rpps, national_id, rpps_with_check_digit, validate_rpps


def test_a_number_with_its_luhn_check_digit_is_accepted() -> None:
    number = rpps_with_check_digit("1000000000")
    assert len(number) == 11
    validate_rpps(number)
    assert national_id(number) == "8" + number


@pytest.mark.parametrize("wrong_digit", "0123456789")
def test_any_other_check_digit_is_rejected(wrong_digit: str) -> None:
    good = rpps_with_check_digit("1012345678")
    candidate = good[:10] + wrong_digit
    assert is_valid_rpps(candidate) == (candidate == good)


def test_a_typo_in_one_digit_is_caught() -> None:
    good = rpps_with_check_digit("1098765432")
    typo = good[:3] + str((int(good[3]) + 1) % 10) + good[4:]
    with pytest.raises(ValidationError) as exc:
        validate_rpps(typo)
    assert exc.value.code == "rpps_checksum"


@pytest.mark.parametrize("value", ["", "1234567890", "123456789012", "1234567890a", " 12345678901"])
def test_wrong_length_or_characters_are_rejected_with_a_format_message(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_rpps(value)
    assert exc.value.code == "rpps_format"


@pytest.mark.django_db
def test_practitioner_model_refuses_an_invalid_rpps() -> None:
    from creneau.directory.models import Practitioner

    p = Practitioner(rpps="10000000000", given_name="A", family_name="B", specialty_id="SM54")
    with pytest.raises(ValidationError) as exc:
        p.full_clean()
    assert "rpps" in exc.value.message_dict
