"""Identifier validation for French health professionals."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import luhn

RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"


def is_valid_rpps(value: str) -> bool:
    """RPPS: 11 digits, the last a Luhn check digit over the first ten."""
    return len(value) == 11 and value.isdigit() and luhn.is_valid(value)


def validate_rpps(value: str) -> None:
    if not (len(value) == 11 and value.isdigit()):
        raise ValidationError(_("An RPPS number has exactly 11 digits."), code="rpps_format")
    if not luhn.is_valid(value):
        raise ValidationError(_("This RPPS number is not valid: its check digit does not match."), code="rpps_checksum")


def rpps_with_check_digit(first_ten: str) -> str:
    """Complete a 10-digit prefix into a valid RPPS (used to make demo data)."""
    return first_ten + luhn.calc_check_digit(first_ten)


def national_id(rpps: str) -> str:
    """The national professional identifier (IdNat_PS) of an RPPS holder: '8' + RPPS."""
    return "8" + rpps


def normalize_practice_phone(value: str) -> str:
    """A practice's phone number in E.164 (French numbers by default, +.. for others); '' stays ''.
    Raises ValidationError with a clear message when it is not a valid number."""
    import phonenumbers

    text = (value or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This phone number is not valid (e.g. 01 23 45 67 89)."), code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str) -> str:
    import phonenumbers

    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 33
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
