"""Locale data for the seeder: names, cities and phone plans (Greek/Cypriot, Polish, Russian,
English)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    region: str
    language: str
    currency: str
    country_code: str
    mobile_prefixes: tuple[str, ...]
    subscriber_digits: int
    trunk: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    company_suffix: str


LOCALES: tuple[Locale, ...] = (
    Locale("CY", "el", "EUR", "357", ("99", "96", "97"), 6, "",
           ("Andreas", "Maria", "Georgios", "Eleni", "Christos", "Androulla", "Nikos",
            "Panayiota", "Kyriakos", "Sofia", "Élena", "Giannis"),
           ("Georgiou", "Ioannou", "Constantinou", "Charalambous", "Papadopoulos",
            "Christodoulou", "Nicolaou", "Kyprianou", "Antoniou", "Michael"),
           ("Nicosia", "Limassol", "Larnaca", "Paphos", "Famagusta"),
           ("Makariou Ave", "Archbishop Kyprianou St", "Ledras St", "Griva Digeni Ave"),
           "Ltd"),
    Locale("PL", "pl", "PLN", "48", ("50", "51", "53", "60", "66", "69", "72", "78", "79"), 7,
           "", ("Anna", "Piotr", "Katarzyna", "Krzysztof", "Małgorzata", "Tomasz", "Agnieszka",
                "Paweł", "Łukasz", "Zofia"),
           ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamińska", "Lewandowski",
            "Zieliński", "Szymańska", "Woźniak", "Dąbrowski"),
           ("Warszawa", "Kraków", "Łódź", "Wrocław", "Gdańsk", "Poznań"),
           ("ul. Marszałkowska", "ul. Długa", "ul. Piotrkowska", "al. Jerozolimskie"),
           "Sp. z o.o."),
    Locale("RU", "ru", "RUB", "7", ("912", "916", "903", "926", "985", "921"), 7, "8",
           ("Ivan", "Olga", "Sergei", "Natalya", "Dmitry", "Tatiana", "Алексей", "Мария",
            "Yuri", "Svetlana"),
           ("Ivanov", "Smirnova", "Kuznetsov", "Popova", "Sokolov", "Петров", "Волкова",
            "Morozov", "Novikova", "Fedorov"),
           ("Moscow", "Saint Petersburg", "Kazan", "Novosibirsk", "Yekaterinburg"),
           ("Tverskaya ul.", "Nevsky pr.", "Leninsky pr.", "ul. Arbat"), "OOO"),
    Locale("GB", "en", "GBP", "44", ("7956", "7412", "7402", "7588", "7825", "7850"), 6, "0",
           ("Oliver", "Amelia", "George", "Isla", "Harry", "Emily", "Jack", "Sophie",
            "O'Brien", "Charlotte"),
           ("Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson",
            "Thomas", "O'Connor"),
           ("London", "Manchester", "Birmingham", "Leeds", "Bristol"),
           ("High Street", "Station Road", "Church Lane", "Victoria Road"), "Ltd"),
)

COMPANY_WORDS = ("Blue", "Atlas", "Nova", "Olympus", "Vector", "Aurora", "Delta", "Zenith",
                 "Prime", "Cedar")
COMPANY_TRADES = ("Trading", "Logistics", "Foods", "Telecom", "Consulting", "Builders",
                  "Media", "Pharma")
SERVICES = ("Fibre 100", "Fibre 500", "TV Basic", "TV Sports", "Mobile 10GB", "Landline")
OPTIONAL = ("Static IP", "Cloud backup", "Extra decoder", "Roaming pack")
ITEMS = ("Router", "Set-top box", "ONT", "SIM card")
SR_SUBJECTS = ("No internet", "Billing question", "Slow speed", "Relocation", "TV no signal")
FLASH_TEXTS = ("Customer threatened to cancel: offer retention discount",
               "Outstanding complaint: escalate to supervisor",
               "Technician visit booked: confirm time", "Prefers calls after 17:00")
