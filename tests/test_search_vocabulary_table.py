"""The search vocabulary as a table: for every specialty of the nomenclature, what people type (written
here, independently of creneau/directory/vocabulary.py) finds that specialty, and so do the same words
in capitals, without accents and with one typo. A specialty added to the nomenclature without a row
here fails the completeness test."""

from __future__ import annotations

import unicodedata

import pytest

from creneau.directory import vocabulary
from creneau.directory.nomenclature import specialty_rows

# Nomenclature code -> what a patient types for it (French first, then English).
TABLE: dict[str, tuple[str, ...]] = {
    "SM54": ("généraliste", "médecin généraliste", "médecin traitant", "medecine generale", "GP", "family doctor"),
    "SM02": ("anesthésiste", "anesthesiste reanimateur", "anaesthetist"),
    "SM04": ("cardiologue", "cardio", "cardiologist"),
    "SM05": ("chirurgien", "chirurgien généraliste", "surgeon"),
    "SM08": ("orthopédiste", "traumatologue", "orthopedic surgeon"),
    "SM10": ("chirurgien esthétique", "plasticien", "plastic surgeon"),
    "SM12": ("urologue", "urologist"),
    "SM15": ("dermatologue", "dermato", "dermatologist", "skin doctor"),
    "SM16": ("endocrinologue", "endocrino", "diabétologue", "endocrinologist"),
    "SM18": ("gériatre", "geriatrician"),
    "SM19": ("gynécologue", "gynéco", "gynecologist"),
    "SM20": ("obstétricien", "obstetrician"),
    "SM21": ("hématologue", "haematologist"),
    "SM22": ("gastro-entérologue", "gastro", "hépatologue", "gastroenterologist"),
    "SM24": ("interniste", "internist"),
    "SM26": ("médecin rééducateur", "MPR", "physiatrist"),
    "SM27": ("néphrologue", "nephrologist"),
    "SM29": ("neurologue", "neuro", "neurologist"),
    "SM32": ("oncologue", "cancérologue", "oncologist"),
    "SM33": ("ophtalmo", "ophtalmologue", "ophtalmologiste", "oculiste", "eye doctor"),
    "SM34": ("ORL", "oto-rhino", "ENT"),
    "SM35": ("pédiatre", "pediatre", "pediatrician", "paediatrician"),
    "SM36": ("pneumologue", "pneumo", "pulmonologist"),
    "SM37": ("psychiatre", "psy", "psychiatrist"),
    "SM38": ("pédopsychiatre", "child psychiatrist"),
    "SM39": ("radiologue", "radio", "échographie", "radiologist"),
    "SM43": ("rhumatologue", "rhumato", "rheumatologist"),
    "SM45": ("stomatologue", "stomato"),
    "SM48": ("allergologue", "allergo", "allergist"),
    "SM50": ("infectiologue", "infectious diseases"),
    "SCD03": ("dentiste", "chirurgien-dentiste", "dentist"),
}

# Professions people look for that are not medical specialties (not on the platform): recognised
# and explained, never "unknown".
NOT_ON_THE_PLATFORM = ("kiné", "kinésithérapeute", "sage-femme", "psychologue")

ROWS = [(typed, code) for code, names in TABLE.items() for typed in names]


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _one_typo(text: str) -> str:
    """The word with one letter left out past its middle (what a thumb does on a phone)."""
    i = len(text) * 2 // 3
    return text[:i] + text[i + 1 :]


def test_the_table_covers_every_specialty_of_the_nomenclature() -> None:
    assert set(TABLE) == {row["code"] for row in specialty_rows()}


@pytest.mark.parametrize(("typed", "code"), ROWS)
def test_everyday_name_finds_its_specialty(typed: str, code: str) -> None:
    assert vocabulary.understand(typed).code == code


@pytest.mark.parametrize(("typed", "code"), ROWS)
def test_capitals_and_missing_accents_change_nothing(typed: str, code: str) -> None:
    assert vocabulary.understand(_plain(typed).upper()).code == code
    plural = typed if typed.endswith("s") or len(typed) <= 3 else typed + "s"
    assert vocabulary.understand(f"  {plural.lower()} ").code == code  # a plural, stray spaces


@pytest.mark.parametrize(("typed", "code"), [(t, c) for t, c in ROWS if len(t) >= 8 and " " not in t])
def test_one_typo_is_tolerated(typed: str, code: str) -> None:
    understood = vocabulary.understand(_one_typo(typed))
    assert understood.code == code or code in understood.suggestions, _one_typo(typed)


@pytest.mark.parametrize("typed", NOT_ON_THE_PLATFORM)
def test_professions_outside_the_nomenclature_are_recognised(typed: str) -> None:
    understood = vocabulary.understand(typed)
    assert understood.code is None and understood.profession is not None


@pytest.mark.parametrize("typed", ["dermatolojist", "cardiolog", "pediatrie enfant", "ophtalmolgiste"])
def test_unknown_words_suggest_the_closest_specialties(typed: str) -> None:
    understood = vocabulary.understand(typed)
    assert understood.code is not None or understood.suggestions, typed
