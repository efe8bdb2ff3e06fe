"""What an importer of real Google archives expects of each resource group's files.

One module per product, each written from Google's Data Export Schema Reference
(https://developers.google.com/data-portability/schema-reference/<page>, cited per group) and,
where the page is silent, from real exports as open-source importers read them. These
expectations are independent of the Rust code that writes the files: they are checked with
Python's own readers (json, csv, zipfile, html.parser) in test_fidelity.py.

A group's files are keyed by their path below ``Portability/``; a key may be a glob
(``YouTube and YouTube Music/videos/*.mp4``) for media written once per record.

Field paths: ``a.b`` is ``record["a"]["b"]``; ``a[].b`` is ``b`` of every element of the list
``record["a"]``. A type is a Python type (``str``, ``int``, ``float``, ``bool``, ``list``,
``dict``), a tuple of them, or one of the strings below:

- ``"timestamp"``: an RFC 3339 string (``2023-08-23T03:49:28.734Z``, ``…+00:00``);
- ``"number"``: ``int`` or ``float`` (JSON does not tell them apart);
- in CSV: ``"int"``, ``"float"``, ``"bool"`` (``true``/``false``/``True``/``False``),
  ``"timestamp"``, ``"url"`` check the column's text; ``str`` accepts anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Json:
    """A JSON document whose records are the list at ``records`` (a key path; ``()`` for a
    top-level array, ``None`` for a single object that is itself the record). ``wrapper``:
    every record is ``{wrapper: {...}}`` and the fields are read inside it (Google Play)."""

    fields: dict
    optional: dict = field(default_factory=dict)
    records: tuple | None = ()
    wrapper: str | None = None


@dataclass
class GeoJson:
    """A GeoJSON FeatureCollection; ``properties`` are field paths inside each feature's
    ``properties``."""

    properties: dict
    optional: dict = field(default_factory=dict)


@dataclass
class Csv:
    """A CSV file with exactly this header row (``None``: no header, rows of ``columns``
    fields), after ``preamble`` lines of free text; ``types`` checks some columns' text."""

    header: list | None
    types: dict = field(default_factory=dict)
    columns: int | None = None
    preamble: int = 0


@dataclass
class Html:
    """An HTML document (parsed with html.parser): ``tags`` must occur; ``links`` is the
    attribute every ``<a>`` carries (Netscape bookmark files: ``href``)."""

    tags: set
    links: set = field(default_factory=set)


@dataclass
class Media:
    """A media file of ``kind`` ``"jpeg"``, ``"mp4"``, ``"mp3"`` or ``"kmz"`` (a ZIP holding ``doc.kml``),
    stored in the ZIP without recompression."""

    kind: str


@dataclass
class Group:
    """The schema-reference page of a group and the files its export holds."""

    page: str
    files: dict


PAGE = "https://developers.google.com/data-portability/schema-reference/"


def all_groups() -> dict[str, Group]:
    """Every product module's ``GROUPS``, merged."""
    from . import chrome, maps, my_activity, play_nest_shopping, search, youtube

    merged: dict[str, Group] = {}
    for module in (chrome, maps, my_activity, play_nest_shopping, search, youtube):
        for name, group in module.GROUPS.items():
            assert name not in merged, f"{name} is described twice"
            merged[name] = group
    return merged
