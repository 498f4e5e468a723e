"""Normalisation and hashing of personal identifiers for paid-media custom audiences.

* Meta (Custom Audiences, customer-list file): columns ``email, phone, fn, ln, ct, zip,
  country, gen``; every value normalised (lower case, trimmed; phone digits only with the
  country code and no ``+``; names without punctuation) then SHA-256 hex, except nothing.
* Google Ads (Customer Match, CSV upload): columns ``Email, Phone, First Name, Last Name,
  Country, Zip``; email lower case without spaces (and without dots before ``@`` for
  ``gmail.com``/``googlemail.com``), phone in E.164 (``+39…``), names lower case, all hashed
  with SHA-256; ``Country`` and ``Zip`` stay in clear, as Google asks.

Pure functions: no session, no network.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

COUNTRY_CALLING_CODES = {"IT": "39", "FR": "33", "DE": "49", "ES": "34", "GB": "44", "US": "1"}


@dataclass(frozen=True)
class Person:
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    sex: str | None = None


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(value: str | None, *, google: bool = False) -> str | None:
    if not value:
        return None
    email = "".join(value.split()).lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        return None
    local, domain = email.rsplit("@", 1)
    if google and domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def normalise_phone(value: str | None, country: str | None = "IT") -> str | None:
    """E.164 digits without ``+`` (``393331234567``), or None when it cannot be a number.
    A number without an international prefix gets the calling code of ``country``."""
    if not value:
        return None
    raw = value.strip()
    digits = re.sub(r"\D", "", raw)
    if not digits:
        return None
    if raw.startswith("+"):
        result = digits
    elif digits.startswith("00"):
        result = digits[2:]
    else:
        code = COUNTRY_CALLING_CODES.get((country or "IT").upper())
        if code is None:
            return None
        result = code + digits.lstrip("0") if code != "39" else code + digits
    return result if 8 <= len(result) <= 15 else None


def normalise_name(value: str | None) -> str | None:
    if not value:
        return None
    text = unicodedata.normalize("NFC", value).lower()
    text = re.sub(r"[^\w]", "", text)
    return text or None


def normalise_city(value: str | None) -> str | None:
    return normalise_name(value)


def _gender(sex: str | None) -> str | None:
    if not sex:
        return None
    first = sex.strip().lower()[:1]
    return first if first in ("m", "f") else None


def _hashed(value: str | None) -> str:
    return sha256(value) if value else ""


META_COLUMNS = ("email", "phone", "fn", "ln", "ct", "zip", "country", "gen")
GOOGLE_COLUMNS = ("Email", "Phone", "First Name", "Last Name", "Country", "Zip")


def meta_rows(people: Iterable[Person]) -> list[list[str]]:
    rows = []
    for p in people:
        email = normalise_email(p.email)
        phone = normalise_phone(p.phone, p.country)
        if not email and not phone:
            continue  # nothing Meta can match on
        rows.append(
            [
                _hashed(email),
                _hashed(phone),
                _hashed(normalise_name(p.first_name)),
                _hashed(normalise_name(p.last_name)),
                _hashed(normalise_city(p.city)),
                _hashed(re.sub(r"\s", "", p.postal_code or "").lower() or None),
                _hashed((p.country or "").strip().lower() or None),
                _hashed(_gender(p.sex)),
            ]
        )
    return rows


def google_rows(people: Iterable[Person]) -> list[list[str]]:
    rows = []
    for p in people:
        email = normalise_email(p.email, google=True)
        phone = normalise_phone(p.phone, p.country)
        if not email and not phone:
            continue
        rows.append(
            [
                _hashed(email),
                _hashed(f"+{phone}" if phone else None),
                _hashed(normalise_name(p.first_name)),
                _hashed(normalise_name(p.last_name)),
                (p.country or "").strip().upper(),
                (p.postal_code or "").strip(),
            ]
        )
    return rows


def to_csv(columns: Iterable[str], rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(rows)
    return buffer.getvalue()


def custom_audience_csv(people: Iterable[Person], fmt: str) -> str:
    """The file to upload: ``fmt`` is ``meta`` or ``google``."""
    if fmt == "meta":
        return to_csv(META_COLUMNS, meta_rows(people))
    if fmt == "google":
        return to_csv(GOOGLE_COLUMNS, google_rows(people))
    raise ValueError(f"unknown export format {fmt!r}: use 'meta' or 'google'")
