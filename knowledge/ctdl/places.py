"""Countries: ISO 3166-1 alpha-2 codes from what publishers write in ``addressCountry``.

Accepted: alpha-2 codes ("DE"), alpha-3 codes ("DEU"), English names ("Germany") and the country's own name
("Deutschland"), case- and accent-insensitive. No country library is installed in the project's environment,
so this is a small table of the countries a European or North American catalogue is likely to name; anything
else is reported and set to a placeholder by the caller.
"""

from __future__ import annotations

import re
import unicodedata

# alpha-2: (alpha-3, English names and other spellings...)
_TABLE: dict[str, tuple[str, ...]] = {
    "US": ("USA", "united states", "united states of america", "u.s.", "u.s.a.", "america"),
    "CA": ("CAN", "canada"), "MX": ("MEX", "mexico", "méxico"),
    "GB": ("GBR", "united kingdom", "uk", "great britain", "england", "scotland", "wales", "northern ireland"),
    "IE": ("IRL", "ireland", "eire", "éire"),
    "DE": ("DEU", "germany", "deutschland", "allemagne", "alemania", "germania", "federal republic of germany"),
    "AT": ("AUT", "austria", "österreich", "autriche"),
    "CH": ("CHE", "switzerland", "schweiz", "suisse", "svizzera", "suiza"),
    "FR": ("FRA", "france", "frankreich", "francia"),
    "BE": ("BEL", "belgium", "belgië", "belgique", "belgien", "bélgica"),
    "NL": ("NLD", "netherlands", "the netherlands", "nederland", "holland", "niederlande", "países bajos"),
    "LU": ("LUX", "luxembourg", "luxemburg"),
    "ES": ("ESP", "spain", "españa", "espagne", "spanien"),
    "PT": ("PRT", "portugal"),
    "IT": ("ITA", "italy", "italia", "italie", "italien"),
    "MT": ("MLT", "malta"), "CY": ("CYP", "cyprus", "kýpros"), "GR": ("GRC", "greece", "hellas", "ελλάδα"),
    "DK": ("DNK", "denmark", "danmark", "dänemark"),
    "SE": ("SWE", "sweden", "sverige", "schweden", "suède"),
    "NO": ("NOR", "norway", "norge", "noreg", "norwegen"),
    "FI": ("FIN", "finland", "suomi", "finnland"),
    "IS": ("ISL", "iceland", "ísland"),
    "EE": ("EST", "estonia", "eesti"), "LV": ("LVA", "latvia", "latvija"), "LT": ("LTU", "lithuania", "lietuva"),
    "PL": ("POL", "poland", "polska", "polen", "pologne"),
    "CZ": ("CZE", "czech republic", "czechia", "česko", "česká republika", "tschechien"),
    "SK": ("SVK", "slovakia", "slovensko", "slowakei"),
    "HU": ("HUN", "hungary", "magyarország", "ungarn"),
    "SI": ("SVN", "slovenia", "slovenija"), "HR": ("HRV", "croatia", "hrvatska", "kroatien"),
    "RO": ("ROU", "romania", "românia", "rumänien"), "BG": ("BGR", "bulgaria", "българия"),
    "RS": ("SRB", "serbia", "srbija"), "UA": ("UKR", "ukraine", "україна"), "TR": ("TUR", "turkey", "türkiye"),
    "LI": ("LIE", "liechtenstein"), "MC": ("MCO", "monaco"),
    "AU": ("AUS", "australia"), "NZ": ("NZL", "new zealand"), "IN": ("IND", "india"), "JP": ("JPN", "japan"),
    "CN": ("CHN", "china"), "SG": ("SGP", "singapore"), "ZA": ("ZAF", "south africa"),
    "BR": ("BRA", "brazil", "brasil"),
    "IL": ("ISR", "israel"), "KR": ("KOR", "south korea", "korea"), "AE": ("ARE", "united arab emirates", "uae"),
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("_", " ").split())


_BY_NAME: dict[str, str] = {}
for _code, _names in _TABLE.items():
    _BY_NAME[_fold(_code)] = _code
    for _name in _names:
        _BY_NAME[_fold(_name)] = _code


def country_code(text: str) -> str | None:
    """ISO 3166-1 alpha-2 code for a country name or code, or None when not recognised.

    An unlisted two-letter code is taken as written (upper-cased): it is already an alpha-2 code."""
    folded = _fold(text)
    if folded in _BY_NAME:
        return _BY_NAME[folded]
    tail = re.split(r"[:/#]", folded.rstrip("/"))[-1]  # a vocabulary IRI such as .../country/DE
    if tail in _BY_NAME:
        return _BY_NAME[tail]
    if re.fullmatch(r"[a-z]{2}", folded):
        return folded.upper()
    return None


#: euro area members (ISO 3166-1 alpha-2)
EURO_AREA = frozenset({"AT", "BE", "HR", "CY", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU", "MT", "NL",
                       "PT", "SK", "SI", "ES"})
_CURRENCY_BY_COUNTRY = {"US": "USD", "CA": "CAD", "GB": "GBP", "CH": "CHF", "LI": "CHF", "SE": "SEK", "NO": "NOK",
                        "DK": "DKK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RO": "RON", "BG": "BGN", "IS": "ISK",
                        "AU": "AUD", "NZ": "NZD", "IN": "INR", "JP": "JPY"}


def currency_of(country: str, default: str = "USD") -> str:
    """The usual currency of a country (ISO 4217): for a placeholder price or an unrecognised currency."""
    return "EUR" if country in EURO_AREA else _CURRENCY_BY_COUNTRY.get(country, default)
