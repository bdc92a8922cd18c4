"""What every vendor's records share: ids, timestamps, names, sizes."""

from __future__ import annotations

import base64
import time
from random import Random
from typing import Any

Record = dict[str, Any]

CN_TOPICS = (
    "医疗卫生常识",
    "员工手册",
    "产品说明书",
    "财务报销制度",
    "客服问答",
    "安全生产规范",
    "售后政策",
)
EN_TOPICS = (
    "employee-handbook",
    "Product FAQ",
    "release-notes",
    "Onboarding Guide",
    "api-reference",
    "pricing",
)
UPLOAD_EXTS = ("doc", "docx", "pdf", "txt", "ppt", "pptx", "json")


def iso_z(epoch: float) -> str:
    """`2026-03-01T08:15:30Z`: the UTC ISO form PAI and Qianfan use."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def new_uuid(rng: Random) -> str:
    """A random version-4 UUID string (formatted by hand: twice as fast as `uuid.UUID`)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def hex_id(rng: Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def alnum_id(rng: Random, length: int) -> str:
    """Lowercase letters and digits, like PAI's ids (`d-ksicx823d`)."""
    return base64.b32encode(rng.getrandbits(8 * length).to_bytes(length, "big")).decode()[:length].lower()


def human_size(size: int) -> str:
    """Lingma's size strings: `0 B`, `312 KB`, `1.5 MB`."""
    value, unit = float(size), "B"
    for next_unit in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}"


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def size_bytes(size: str) -> int:
    """The byte count a Lingma size string stands for (`"1.5 KB"` -> 1536), rounded to a byte."""
    number, _, unit = size.partition(" ")
    return round(float(number) * _UNITS.get(unit, 1))


def exact_size(size: int) -> int:
    """`size` rounded down to a byte count its human string renders exactly.

    `human_size` keeps two decimals, so below 1 KB every count is exact and above it a quarter of
    the unit is the finest exact step (`"1.25 MB"`): `size_bytes(human_size(exact_size(n)))` is
    `exact_size(n)`, which lets a sum of file sizes be compared with a knowledge base's size.
    """
    unit = 1
    while size >= unit * 1024 and unit < 1024**4:
        unit *= 1024
    quantum = 1 if unit == 1 else unit // 4
    return size - size % quantum


def title(rng: Random, index: int) -> str:
    """A document title, Chinese or English, numbered so names repeat rarely."""
    if rng.random() < 0.5:
        return f"{rng.choice(CN_TOPICS)}{index}"
    return f"{rng.choice(EN_TOPICS)}-{index}"
