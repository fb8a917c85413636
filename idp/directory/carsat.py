"""The regional fund (CARSAT, or CRAMIF, CGSS…) an establishment's AT/MP account depends on,
from its department. The mapping follows the funds' regions; an operator can change it here
without touching the directory's rows (it is read from the postal code at display time)."""

from __future__ import annotations

UNKNOWN = "Caisse non déterminée"

_FUNDS = {
    "Carsat Alsace-Moselle": "57 67 68",
    "Carsat Aquitaine": "24 33 40 47 64",
    "Carsat Auvergne": "03 15 43 63",
    "Carsat Bourgogne-Franche-Comté": "21 25 39 58 70 71 89 90",
    "Carsat Bretagne": "22 29 35 56",
    "Carsat Centre-Val de Loire": "18 28 36 37 41 45",
    "Carsat Centre-Ouest": "16 17 19 23 79 86 87",
    "Carsat Hauts-de-France": "02 59 60 62 80",
    "Carsat Languedoc-Roussillon": "11 30 34 48 66",
    "Carsat Midi-Pyrénées": "09 12 31 32 46 65 81 82",
    "Carsat Nord-Est": "08 10 51 52 54 55 88",
    "Carsat Normandie": "14 27 50 61 76",
    "Carsat Pays de la Loire": "44 49 53 72 85",
    "Carsat Rhône-Alpes": "01 07 26 38 42 69 73 74",
    "Carsat Sud-Est": "04 05 06 13 20 83 84",
    "Cramif (Île-de-France)": "75 77 78 91 92 93 94 95",
    "CGSS Guadeloupe": "971",
    "CGSS Martinique": "972",
    "CGSS Guyane": "973",
    "CGSS La Réunion": "974",
    "CSSM Mayotte": "976",
}
_BY_DEPARTMENT = {department: fund for fund, departments in _FUNDS.items()
                  for department in departments.split()}


def carsat_of(postal_code: str | None) -> str:
    """The fund of an establishment at ``postal_code`` (overseas by three digits, Corsica's
    20xxx with the Sud-Est), or ``UNKNOWN``."""
    code = (postal_code or "").strip()
    if len(code) != 5 or not code.isdigit():
        return UNKNOWN
    return _BY_DEPARTMENT.get(code[:3]) or _BY_DEPARTMENT.get(code[:2]) or UNKNOWN
