"""Regenerate the sample files: ``python data_samples/generate.py``.

The samples are what real exports look like: Excel's "CSV UTF-8" (a byte-order mark, CRLF line
ends), Indian names with accents, customer IDs with leading zeros, day-first local dates, notes
with commas and line breaks, blank rows, and a few rows that are wrong in the ways real files are
wrong. The output is deterministic (a fixed seed), so the committed files match this script.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import unicodedata
from pathlib import Path

HERE = Path(__file__).parent
FIRST = [
    "Aarav",
    "Zoë",
    "Ananya",
    "Rohan",
    "Işık",
    "Priya",
    "José",
    "Meera",
    "Kabir",
    "Renée",
    "Vikram",
    "Sneha",
    "Aditya",
    "Chloé",
    "Arjun",
    "Diya",
    "Nikhil",
    "Fatima",
    "Rahul",
    "Léa",
]
LAST = [
    "Sharma",
    "O'Brien",
    "Iyer",
    "Gupta",
    "Müller",
    "Reddy",
    "Nair",
    "D'Souza",
    "Patel",
    "Kulkarni",
    "Bose",
    "Fernández",
    "Menon",
    "Khan",
    "Rao",
    "Chatterjee",
]
CITIES = ["Pune", "Mumbai", "Bengaluru", "Hyderabad", "Chennai", "Nagpur", "Kochi", "Gurugram"]
PROJECTS = ["Green Meadows", "Skyline Towers", "Lakeview Residency"]
STAGES = ["New", "Hot", "Won", "", "new"]
KYC = ["Pending", "Verified", "Rejected", ""]


def ascii_email(first: str, last: str, i: int) -> str:
    text = unicodedata.normalize("NFKD", f"{first}.{last}{i}".lower().replace("'", ""))
    return text.encode("ascii", "ignore").decode() + "@example.com"


def lakhs(amount: int) -> str:
    """Indian digit grouping, as Indian spreadsheets write it: 1,48,00,000."""
    text = str(amount)
    head, tail = text[:-3], text[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *groups, tail] if head else [*groups, tail])


def site_visits(rng: random.Random) -> list[list[str]]:
    rows = []
    start = dt.datetime(2026, 3, 1, 9, 0)
    for i in range(300):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = ascii_email(first, last, i)
        mobile = rng.choice(
            [
                f"9{rng.randrange(10**9):09d}",
                f"+91 9{rng.randrange(10**4):04d} {rng.randrange(10**5):05d}",
                f"09{rng.randrange(10**9):09d}",
                f"+91-8{rng.randrange(10**9):09d}",
            ]
        )
        when = start + dt.timedelta(
            hours=rng.randrange(24 * 60), minutes=rng.choice([0, 15, 30, 45])
        )
        budget = rng.choice(
            [
                lakhs(rng.randrange(30, 250) * 100_000),
                f"{rng.randrange(3, 25)}000000",
                f"{rng.randrange(1, 9)},{rng.randrange(100, 999)},{rng.randrange(100, 999)}.50",
            ]
        )
        note = rng.choice(
            [
                "Visited the show flat",
                "Wants a 2BHK, east facing",
                "Asked about loans;\nwill call back",
                "Café meeting — très intéressé",
                "",
            ]
        )
        rows.append(
            [
                email,
                first,
                last,
                mobile,
                rng.choice(CITIES),
                f"{rng.randrange(1, 5000):06d}",
                rng.choice(STAGES),
                rng.choice(KYC),
                f"KYC-{i:05d}.pdf" if rng.random() < 0.5 else "",
                when.strftime("%d/%m/%Y %H:%M"),
                rng.choice(PROJECTS),
                budget,
                note,
            ]
        )
    # the wrong rows every real export has
    rows[11][3] = "98765"  # too short for a phone number
    rows[42][0] = "rohan.gupta@example"  # no domain
    rows[77][9] = "31/02/2026 10:00"  # no such date
    rows[120][11] = "12,5k"  # not a number
    rows[150][0] = ""  # no SearchBy value
    rows[151][0] = rows[150 - 100][0].upper()  # the same lead again, in other case
    rows[199][9] = "29/03/2026 02:30"  # a fine time in India (no daylight saving)
    rows[230][3] = "+44 20 7946 0958"  # a London landline, valid
    rows[260].append("stray field")  # a delimiter in an unquoted value
    return rows


def write_csv(rows: list[list[str]]) -> None:
    header = [
        "Email",
        "First Name",
        "Last Name",
        "Mobile",
        "City",
        "Customer ID",
        "Stage",
        "KYC Status",
        "KYC Doc",
        "Visit Date",
        "Project",
        "Budget",
        "Notes",
    ]
    path = HERE / "site_visits.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        for i, row in enumerate(rows):
            writer.writerow(row)
            if i in (60, 61, 180):
                writer.writerow([""] * len(header))  # blank rows, as exports have


def write_xlsx(rng: random.Random) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    readme = book.active
    readme.title = "About"
    readme.append(["Payments received, exported from the accounts system"])
    sheet = book.create_sheet("Payments")
    sheet.append(["Email", "Name", "Phone", "Amount", "Paid On", "Receipt No", "Mode", "Remarks"])
    start = dt.datetime(2026, 3, 1, 10, 0)
    for i in range(120):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = ascii_email(first, last, i)
        phone: object = 910000000000 + rng.randrange(7 * 10**9, 10**10 - 1)  # a number cell
        amount: object = round(rng.uniform(1000, 500000), 2)
        paid: object = start + dt.timedelta(days=rng.randrange(60), minutes=rng.randrange(600))
        receipt = f"{rng.randrange(1, 99999):07d}"  # text with leading zeros
        mode = rng.choice(["Cash", "Card", "UPI", "NEFT"])
        sheet.append(
            [
                email,
                f"{first} {last}",
                phone,
                amount,
                paid,
                receipt,
                mode,
                rng.choice(["", "Part payment", "Full & final"]),
            ]
        )
        sheet.cell(row=sheet.max_row, column=5).number_format = "dd/mm/yyyy hh:mm"
        sheet.cell(row=sheet.max_row, column=6).number_format = "@"
    sheet.cell(row=12, column=4).value = "twelve thousand"  # not a number
    sheet.cell(row=30, column=3).value = "N/A"  # no phone
    sheet.cell(row=31, column=5).value = "not paid"  # not a date
    sheet.insert_rows(50)  # a blank row
    book.properties.created = book.properties.modified = dt.datetime(2026, 3, 1)
    book.save(HERE / "payments.xlsx")


if __name__ == "__main__":
    rng = random.Random(20260301)
    write_csv(site_visits(rng))
    write_xlsx(rng)
