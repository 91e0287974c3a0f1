"""What patients type for a specialty, mapped onto the nomenclature.

People say "dermato", "pédiatre", "médecin traitant", "ORL", "psy", not "Dermatologie et
vénéréologie". This module folds what was typed (case, accents, punctuation, plurals, small words),
looks it up among the everyday names of every specialty (French and English), the official labels,
slugs and codes, and tolerates one typo (one letter missing, extra, wrong or two letters swapped).

Some professions people search for (physiotherapists, midwives, psychologists...) are not medical
specialties of the nomenclature and not on the platform: they are recognised, so that the patient is
told so instead of being told the word is unknown."""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from functools import cache

from .nomenclature import specialty_rows

# Everyday names, abbreviations and frequent misspellings, per nomenclature code. Plurals and accents
# need not be listed (folded away); the official labels and slugs are added automatically.
EVERYDAY_NAMES: dict[str, tuple[str, ...]] = {
    "SM54": (
        "généraliste",
        "médecin généraliste",
        "médecin traitant",
        "médecin de famille",
        "médecin",
        "docteur",
        "médecine générale",
        "generaliste",
        "MG",
        "GP",
        "general practitioner",
        "family doctor",
        "doctor",
        "family medicine",
    ),
    "SM02": (
        "anesthésiste",
        "anesthésiste réanimateur",
        "anesthésie",
        "anesthetist",
        "anaesthetist",
        "anesthesiologist",
    ),
    "SM04": ("cardiologue", "cardio", "cardiologist", "heart doctor", "cardiologie"),
    "SM05": ("chirurgien", "chirurgien généraliste", "chirurgie", "surgeon", "general surgeon"),
    "SM08": (
        "orthopédiste",
        "chirurgien orthopédiste",
        "chirurgien orthopédique",
        "traumatologue",
        "orthopédie",
        "orthopaedic surgeon",
        "orthopedic surgeon",
        "orthopedist",
    ),
    "SM10": (
        "chirurgien esthétique",
        "chirurgien plasticien",
        "chirurgie esthétique",
        "plasticien",
        "plastic surgeon",
        "cosmetic surgeon",
    ),
    "SM12": ("urologue", "uro", "urologist", "chirurgien urologue"),
    "SM15": (
        "dermatologue",
        "dermato",
        "derma",
        "dermatologist",
        "dermatologie",
        "vénérologue",
        "médecin de la peau",
        "skin doctor",
    ),
    "SM16": ("endocrinologue", "endocrino", "diabétologue", "endocrinologist", "diabetologist", "diabète"),
    "SM18": ("gériatre", "geriatrician", "médecin gériatre"),
    "SM19": ("gynécologue", "gynéco", "gynécologie", "gyneco", "gynecologist", "gynaecologist", "gyn"),
    "SM20": ("obstétricien", "gynécologue obstétricien", "obstétrique", "obstetrician"),
    "SM21": ("hématologue", "hematologist", "haematologist"),
    "SM22": (
        "gastro-entérologue",
        "gastro",
        "gastroentérologue",
        "hépatologue",
        "proctologue",
        "gastroenterologist",
        "hepatologist",
    ),
    "SM24": ("interniste", "internist", "médecin interniste"),
    "SM26": ("médecin rééducateur", "rééducation", "MPR", "physiatre", "rehabilitation", "physiatrist"),
    "SM27": ("néphrologue", "nephrologist", "néphro"),
    "SM29": ("neurologue", "neuro", "neurologist"),
    "SM32": ("oncologue", "cancérologue", "oncologist", "cancer"),
    "SM33": (
        "ophtalmologue",
        "ophtalmo",
        "ophtalmologiste",
        "oculiste",
        "ophthalmologist",
        "eye doctor",
        "ophtalmologie",
    ),
    "SM34": ("ORL", "oto-rhino", "otorhino", "oto-rhino-laryngologiste", "ENT", "ear nose throat"),
    "SM35": (
        "pédiatre",
        "pédiatrie",
        "pediatre",
        "médecin pour enfant",
        "pediatrician",
        "paediatrician",
        "children's doctor",
    ),
    "SM36": ("pneumologue", "pneumo", "pulmonologist", "lung doctor", "chest physician"),
    "SM37": ("psychiatre", "psy", "psychiatrist"),
    "SM38": ("pédopsychiatre", "pédopsy", "child psychiatrist"),
    "SM39": ("radiologue", "radio", "radiologie", "imagerie", "échographie", "IRM", "radiologist", "ultrasound", "MRI"),
    "SM43": ("rhumatologue", "rhumato", "rheumatologist"),
    "SM45": ("stomatologue", "stomato", "stomatologist"),
    "SM48": ("allergologue", "allergo", "allergie", "allergist", "allergy"),
    "SM50": ("infectiologue", "infectiologist", "infectious diseases"),
    "SCD03": (
        "dentiste",
        "chirurgien dentiste",
        "chirurgien-dentiste",
        "dentaire",
        "soins dentaires",
        "dent",
        "dentist",
        "dental",
    ),
}

# Searched for, but not medical specialties of the nomenclature: (everyday names, label FR, label EN).
OTHER_PROFESSIONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("kiné", "kinésithérapeute", "kinésithérapie", "kine", "physiotherapist", "physio", "masseur kinésithérapeute"),
        "kinésithérapeutes",
        "physiotherapists",
    ),
    (("sage-femme", "sage femme", "maïeuticien", "midwife"), "sages-femmes", "midwives"),
    (("psychologue", "psychologist", "psychothérapeute", "psychotherapist"), "psychologues", "psychologists"),
    (("orthophoniste", "speech therapist"), "orthophonistes", "speech therapists"),
    (("ostéopathe", "osteo", "ostéo", "osteopath"), "ostéopathes", "osteopaths"),
    (("infirmier", "infirmière", "nurse"), "infirmiers", "nurses"),
    (("orthoptiste", "orthoptist"), "orthoptistes", "orthoptists"),
    (("podologue", "pédicure", "podiatrist"), "podologues", "podiatrists"),
)

_SMALL_WORDS = frozenset(
    {"le", "la", "les", "l", "un", "une", "de", "du", "des", "d", "pour", "en", "a", "the", "an", "of", "s"}
)
_SPLIT = re.compile(r"[^a-z0-9]+")
MAX_QUERY = 120


def fold(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: 'Pédiatre-ORL' -> 'pediatre orl'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(w for w in _SPLIT.split(text) if w)


def _singular(word: str) -> str:
    if len(word) > 3 and word[-1] in "sx" and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def key(text: str) -> str:
    """The lookup key of a phrase: folded, singular, without small words ('les pédiatres' -> 'pediatre')."""
    words = [_singular(w) for w in fold(text).split() if w not in _SMALL_WORDS]
    return " ".join(words)


def _one_edit_apart(a: str, b: str) -> bool:
    """At most one insertion, deletion, substitution or swap of two neighbouring letters."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    # b is a with one extra letter
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


@dataclasses.dataclass(frozen=True, slots=True)
class Understood:
    """What a query was understood as: a specialty code, or another profession, or nothing, with the
    closest specialty codes as suggestions."""

    code: str | None = None
    profession: tuple[str, str] | None = None  # (label FR, label EN) of a profession not on the platform
    suggestions: tuple[str, ...] = ()
    corrected: bool = False  # found through typo tolerance or a prefix


@cache
def _index() -> tuple[dict[str, str], dict[str, int]]:
    """Key -> specialty code ('' prefix marks another profession by its index)."""
    out: dict[str, str] = {}
    for row in specialty_rows():
        code = row["code"]
        for phrase in (row["label_fr"], row["label_en"], row["slug"], code):
            out.setdefault(key(phrase), code)
    for code, names in EVERYDAY_NAMES.items():
        for phrase in names:
            out.setdefault(key(phrase), code)
    others: dict[str, int] = {}
    for i, (names, _fr, _en) in enumerate(OTHER_PROFESSIONS):
        for phrase in names:
            others.setdefault(key(phrase), i)
    return out, others


def known_codes() -> frozenset[str]:
    return frozenset(row["code"] for row in specialty_rows())


def understand(query: str) -> Understood:
    """Map a typed phrase onto a specialty (or another profession), tolerant of one typo."""
    k = key(query[:MAX_QUERY])
    if not k:
        return Understood()
    names, others = _index()
    if k in names:
        return Understood(code=names[k])
    if k in others:
        fr_en = OTHER_PROFESSIONS[others[k]]
        return Understood(profession=(fr_en[1], fr_en[2]))
    candidates: set[str] = set()
    if len(k) >= 4:
        candidates = {code for name, code in names.items() if _one_edit_apart(k, name)}
        if not candidates:
            for name, i in others.items():
                if _one_edit_apart(k, name):
                    fr_en = OTHER_PROFESSIONS[i]
                    return Understood(profession=(fr_en[1], fr_en[2]), corrected=True)
        if not candidates:  # the beginning of a name: 'dermatol', 'ophtalm'
            candidates = {code for name, code in names.items() if name.startswith(k)}
    if len(candidates) == 1:
        return Understood(code=candidates.pop(), corrected=True)
    return Understood(suggestions=tuple(sorted(candidates)) or closest(k))


def closest(query_key: str, limit: int = 3) -> tuple[str, ...]:
    """The specialty codes whose names look most like the query (for 'did you mean')."""
    names, _others = _index()
    out: list[str] = []
    for name in difflib.get_close_matches(query_key, list(names), n=20, cutoff=0.6):
        code = names[name]
        if code not in out:
            out.append(code)
        if len(out) >= limit:
            break
    return tuple(out)


def suggest(query: str, limit: int = 6) -> list[str]:
    """Codes of specialties one of whose names starts with what was typed (autocomplete)."""
    k = key(query[:MAX_QUERY])
    if len(k) < 2:
        return []
    names, _others = _index()
    out: list[str] = []
    for name, code in sorted(names.items(), key=lambda kv: (len(kv[0]), kv[0])):
        if (name.startswith(k) or any(w.startswith(k) for w in name.split())) and code not in out:
            out.append(code)
            if len(out) >= limit:
                break
    return out
