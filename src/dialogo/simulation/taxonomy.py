"""Fixed vocabularies of the simulated world: topics, age bands, sexes, places and names.

Indices into these tuples are what the population arrays hold; the tuples never change order
(appending is safe), so ground-truth files stay readable across versions.
"""

from __future__ import annotations

import dataclasses

TOPICS: tuple[str, ...] = (
    "coffee",
    "food",
    "running",
    "fitness",
    "travel",
    "fashion",
    "tech",
    "music",
    "football",
    "family",
    "sustainability",
    "cinema",
)
TOPIC_INDEX: dict[str, int] = {name: i for i, name in enumerate(TOPICS)}

AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
SEXES: tuple[str, ...] = ("f", "m", "x")
SEX_WEIGHTS: tuple[float, ...] = (0.505, 0.485, 0.01)

SENTIMENTS: tuple[str, ...] = ("neg", "neu", "pos")
INTENTS: tuple[str, ...] = ("question", "complaint", "praise", "other")
ASPECTS: tuple[str, ...] = ("product", "price", "delivery", "service", "store", "app")
LANGUAGES: tuple[str, ...] = ("it", "en")


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a person lives: a city, or the rest of a region (``city`` is ``None``), or abroad."""

    name: str
    region: str
    country: str
    weight: float  # share of the simulated population (normalised over all places)

    @property
    def abroad(self) -> bool:
        return self.country != "IT"


# Resident population by region (millions, ISTAT 2023, rounded) and the main cities in each
# (millions). Social-network users are a little more urban than residents: cities get a boost.
_REGIONS: tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...] = (
    ("Lombardia", 10.0, (("Milano", 1.37), ("Brescia", 0.20), ("Bergamo", 0.12))),
    ("Lazio", 5.72, (("Roma", 2.75),)),
    ("Campania", 5.59, (("Napoli", 0.92), ("Salerno", 0.13))),
    ("Veneto", 4.85, (("Verona", 0.26), ("Venezia", 0.25), ("Padova", 0.21))),
    ("Sicilia", 4.81, (("Palermo", 0.63), ("Catania", 0.30))),
    ("Emilia-Romagna", 4.44, (("Bologna", 0.39), ("Parma", 0.20), ("Modena", 0.18))),
    ("Piemonte", 4.25, (("Torino", 0.85),)),
    ("Puglia", 3.91, (("Bari", 0.32), ("Lecce", 0.09))),
    ("Toscana", 3.66, (("Firenze", 0.36), ("Pisa", 0.09))),
    ("Calabria", 1.85, (("Reggio Calabria", 0.17), ("Cosenza", 0.06))),
    ("Sardegna", 1.58, (("Cagliari", 0.15),)),
    ("Liguria", 1.51, (("Genova", 0.56),)),
    ("Marche", 1.49, (("Ancona", 0.10),)),
    ("Abruzzo", 1.27, (("Pescara", 0.12),)),
    ("Friuli-Venezia Giulia", 1.19, (("Trieste", 0.20), ("Udine", 0.10))),
    ("Trentino-Alto Adige", 1.08, (("Trento", 0.12), ("Bolzano", 0.11))),
    ("Umbria", 0.86, (("Perugia", 0.16),)),
    ("Basilicata", 0.54, (("Potenza", 0.06),)),
    ("Molise", 0.29, (("Campobasso", 0.05),)),
    ("Valle d'Aosta", 0.12, (("Aosta", 0.03),)),
)
_CITY_BOOST = 1.35
# Italians abroad who follow Italian brands, and foreign fans of Italian coffee and food.
_ABROAD: tuple[tuple[str, str, float], ...] = (
    ("London", "GB", 0.9),
    ("Berlin", "DE", 0.5),
    ("Munich", "DE", 0.35),
    ("Paris", "FR", 0.45),
    ("Barcelona", "ES", 0.35),
    ("Zurich", "CH", 0.3),
    ("Brussels", "BE", 0.25),
    ("Amsterdam", "NL", 0.25),
    ("New York", "US", 0.4),
    ("Dublin", "IE", 0.2),
)
ABROAD_SHARE = 0.045


def _build_places() -> tuple[Place, ...]:
    places: list[Place] = []
    raw: list[tuple[str, str, str, float]] = []
    for region, pop, cities in _REGIONS:
        city_pop = sum(c for _, c in cities)
        for city, c in cities:
            raw.append((city, region, "IT", c * _CITY_BOOST))
        raw.append((f"{region} (altro)", region, "IT", max(pop - city_pop, 0.0)))
    raw_total = sum(w for *_, w in raw)
    for name, region, country, w in raw:
        places.append(Place(name, region, country, (1 - ABROAD_SHARE) * w / raw_total))
    abroad_total = sum(w for *_, w in _ABROAD)
    for city, country, w in _ABROAD:
        places.append(Place(city, "abroad", country, ABROAD_SHARE * w / abroad_total))
    return tuple(places)


PLACES: tuple[Place, ...] = _build_places()
REGIONS: tuple[str, ...] = (*(r for r, _, _ in _REGIONS), "abroad")
REGION_INDEX: dict[str, int] = {name: i for i, name in enumerate(REGIONS)}
PLACE_REGION: tuple[int, ...] = tuple(REGION_INDEX[p.region] for p in PLACES)

FIRST_NAMES_F: tuple[str, ...] = (
    "Giulia", "Francesca", "Chiara", "Sara", "Martina", "Valentina", "Alessia", "Federica",
    "Elisa", "Silvia", "Laura", "Elena", "Giorgia", "Anna", "Paola", "Roberta", "Sofia",
    "Aurora", "Alice", "Ginevra", "Beatrice", "Camilla", "Noemi", "Marta", "Ilaria", "Serena",
    "Monica", "Cristina", "Daniela", "Barbara", "Simona", "Veronica", "Arianna", "Eleonora",
    "Lucia", "Rita", "Teresa", "Maria", "Rosa", "Carla",
)  # fmt: skip
FIRST_NAMES_M: tuple[str, ...] = (
    "Marco", "Alessandro", "Luca", "Andrea", "Matteo", "Lorenzo", "Francesco", "Davide",
    "Simone", "Federico", "Riccardo", "Stefano", "Giuseppe", "Antonio", "Giovanni", "Paolo",
    "Roberto", "Fabio", "Daniele", "Emanuele", "Leonardo", "Tommaso", "Gabriele", "Edoardo",
    "Filippo", "Nicola", "Michele", "Massimo", "Claudio", "Vincenzo", "Salvatore", "Pietro",
    "Giorgio", "Enrico", "Mattia", "Diego", "Alberto", "Franco", "Sergio", "Bruno",
)  # fmt: skip
FIRST_NAMES_X: tuple[str, ...] = ("Alex", "Sam", "Andrea", "Nico", "Ale", "Fede", "Gio", "Vale")
LAST_NAMES: tuple[str, ...] = (
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
    "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano",
    "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi",
    "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo", "Gentile", "Martinelli",
    "Vitale", "Lombardo", "Serra", "Coppola", "De Santis", "D'Angelo", "Marchetti", "Parisi",
    "Villa", "Conte", "Ferraro", "Ferri", "Fabbri", "Bianco", "Marini", "Grasso", "Valentini",
    "Messina", "Sala", "De Angelis", "Gatti", "Pellegrini", "Palumbo", "Sanna", "Farina",
    "Rizzi", "Monti",
)  # fmt: skip
FOREIGN_FIRST_F: tuple[str, ...] = (
    "Emma", "Olivia", "Sophie", "Hannah", "Claire", "Lena", "Chloe", "Grace", "Amelia", "Julia",
)  # fmt: skip
FOREIGN_FIRST_M: tuple[str, ...] = (
    "James", "Oliver", "Lukas", "Thomas", "Daniel", "Max", "Jack", "Henry", "Paul", "Leon",
)  # fmt: skip
FOREIGN_LAST: tuple[str, ...] = (
    "Smith", "Müller", "Martin", "Brown", "Schmidt", "Dubois", "Wilson", "García", "Taylor",
    "Murphy", "Weber", "Evans", "Jansen", "Walsh", "Fischer", "Clarke",
)  # fmt: skip
