"""Phone numbers patients type: validated and normalised with `phonenumbers` (French numbers,
mainland and overseas, written nationally or internationally), stored in E.164 (+33612345678)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from creneau.core.errors import InvalidInput

# France and its overseas departments and collectivities (their own country codes in E.164).
FRENCH_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"})
OVERSEAS_REGIONS = ("RE", "GP", "MQ", "GF", "YT", "PM", "BL", "MF")
# ARCEP reserves 06 39 98 xx xx for fiction: demo and test data use it (phonenumbers calls it invalid).
FICTION_PREFIX = "+3363998"
_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_phone(raw: str, *, mobile: bool = True) -> str:
    """E.164 form of a French number ('06 12 34 56 78' -> '+33612345678'); '' for ''. Raises
    InvalidInput with a message that never repeats the number."""
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(_("This phone number is not valid. Example: 06 12 34 56 78.")) from exc
    if not phonenumbers.is_valid_number(number) and not text.startswith(("+", "00")):
        # Written nationally, an overseas number (0692... in La Réunion) belongs to its own region.
        for region in OVERSEAS_REGIONS:
            candidate = phonenumbers.parse(text, region)
            if phonenumbers.is_valid_number(candidate):
                number = candidate
                break
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if (
        getattr(settings, "CRENEAU_ACCEPT_FICTION_PHONES", False)
        and e164.startswith(FICTION_PREFIX)
        and len(e164) == 12
    ):
        return e164
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(_("This phone number is not valid. Example: 06 12 34 56 78."))
    if phonenumbers.region_code_for_number(number) not in FRENCH_REGIONS:
        raise InvalidInput(_("Please give a French phone number (mainland or overseas)."))
    if mobile and phonenumbers.number_type(number) not in _MOBILE:
        raise InvalidInput(_("Please give a mobile number: we send text messages to it."))
    return e164


def display_phone(e164: str) -> str:
    """'+33612345678' -> '06 12 34 56 78' (national format), for showing to its owner."""
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
