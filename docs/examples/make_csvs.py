#!/usr/bin/env python
"""Write the small CSV files the README tour and docs/cli.md use (seeded: the same bytes
every time). Run from anywhere: ``python docs/examples/make_csvs.py``.

- ``houses.csv`` (400 rows), ``houses_test.csv`` (100), ``houses_new.csv`` (5, no price):
  a house's ``price`` (in thousands) from its ``rooms``, ``area`` (m²) and ``age`` (years),
  nonlinear in area and age, with noise.
- ``fruit.csv`` (300 rows), ``fruit_test.csv`` (90), ``fruit_new.csv`` (4, no label):
  the ``fruit`` (``apple``, ``lemon`` or ``orange``) from its ``weight`` (g),
  ``diameter`` (cm) and ``sweetness`` (0-10), classes that overlap a little.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _houses(rng: np.random.Generator, n: int) -> tuple[list[str], list[list[object]]]:
    rooms = rng.integers(1, 7, size=n)
    area = np.round(rooms * 22 + rng.normal(0, 12, size=n).clip(-30, 30) + 15, 1)
    age = rng.integers(0, 80, size=n)
    price = (40 + 2.1 * area + 12 * np.sqrt(rooms) - 0.015 * (age - 30) ** 2
             + 40 * np.exp(-age / 8) + rng.normal(0, 12, size=n))
    rows = [[int(r), float(a), int(g), round(float(p), 1)]
            for r, a, g, p in zip(rooms, area, age, price, strict=True)]
    return ["rooms", "area", "age", "price"], rows


FRUIT = {  # weight (g), diameter (cm), sweetness: mean and spread per fruit
    "apple": ((160, 25), (7.2, 0.6), (7.5, 1.0)),
    "lemon": ((110, 20), (6.0, 0.6), (2.0, 1.0)),
    "orange": ((220, 30), (8.6, 0.7), (4.8, 1.0)),
}


def _fruit(rng: np.random.Generator, n: int) -> tuple[list[str], list[list[object]]]:
    names = rng.choice(sorted(FRUIT), size=n)
    rows = []
    for name in names.tolist():
        (wm, ws), (dm, ds), (sm, ss) = FRUIT[name]
        rows.append([round(float(rng.normal(wm, ws)), 1), round(float(rng.normal(dm, ds)), 2),
                     round(float(np.clip(rng.normal(sm, ss), 0, 10)), 1), name])
    return ["weight", "diameter", "sweetness", "fruit"], rows


def _write(name: str, header: list[str], rows: list[list[object]]) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rng = np.random.default_rng(2024)
    header, rows = _houses(rng, 505)
    _write("houses.csv", header, rows[:400])
    _write("houses_test.csv", header, rows[400:500])
    _write("houses_new.csv", header[:-1], [row[:-1] for row in rows[500:]])
    header, rows = _fruit(rng, 394)
    _write("fruit.csv", header, rows[:300])
    _write("fruit_test.csv", header, rows[300:390])
    _write("fruit_new.csv", header[:-1], [row[:-1] for row in rows[390:]])


if __name__ == "__main__":
    main()
