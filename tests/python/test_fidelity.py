"""Emulator fidelity (issue 10): an importer written against real Google archives reads ours.

One export of every built-in group is downloaded through signed URLs and extracted; each group's
files are then checked against ``shapes`` (written from Google's schema reference, independently
of the Rust code) with Python's own readers: json, csv, zipfile and html.parser.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from conftest import SCOPE_PREFIX, _serve
from shapes import Csv, GeoJson, Group, Html, Json, Media, all_groups
from test_google_client import download, initiate, wait_state

GROUPS = all_groups()
# Few records per group, so that every group's export stays small; enough that optional fields
# (present on a share of records) and the smaller files of split groups show up.
RECORDS = 100

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")


@pytest.fixture(scope="module")
def fidelity_server():
    yield from _serve("fidelity", ["--emulator-records", str(RECORDS), "--workers", "2"])


@pytest.fixture(scope="module")
def archive(fidelity_server, tmp_path_factory):
    """Every built-in group exported once: (extracted directory, ZIP entries by path)."""
    from conftest import api_for

    names = sorted(catalogue_groups(fidelity_server))
    svc = api_for(fidelity_server)(fidelity_server.mint(names).token)
    job = initiate(svc, names)["archiveJobId"]
    state = wait_state(svc, job, until={"COMPLETE"})
    out = tmp_path_factory.mktemp("fidelity")
    entries: dict[str, zipfile.ZipInfo] = {}
    for url in state["urls"]:
        with zipfile.ZipFile(io.BytesIO(download(url))) as zf:
            for info in zf.infolist():
                entries[info.filename] = info
            zf.extractall(out)
    return out, entries


def catalogue_groups(server) -> list[str]:
    """The server's resource groups, from the scopes of its discovery document."""
    with requests.Session() as s:
        s.trust_env = False
        doc = s.get(f"{server.base}/$discovery/rest", params={"version": "v1"}, timeout=30).json()
    return sorted(scope.removeprefix(SCOPE_PREFIX) for scope in doc["auth"]["oauth2"]["scopes"])


def test_every_built_in_group_has_a_documented_shape(fidelity_server):
    assert sorted(GROUPS) == sorted(catalogue_groups(fidelity_server))
    for name, group in GROUPS.items():
        assert group.page.startswith("https://developers.google.com/data-portability/schema-reference/"), name
        assert group.files, name


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_group_files_have_googles_shape(archive, name):
    root, entries = archive
    group: Group = GROUPS[name]
    for pattern, shape in group.files.items():
        matches = [p for p in entries if fnmatch.fnmatchcase(p, "Portability/" + pattern)]
        assert matches, f"{name}: no file matches Portability/{pattern}; the archive has " + ", ".join(
            sorted(p for p in entries if p.split("/")[1:2] == pattern.split("/")[:1])
        )
        for path in matches:
            check_file(name, path, root / path, entries[path], shape)


def check_file(name: str, path: str, file: Path, entry: zipfile.ZipInfo, shape) -> None:
    data = file.read_bytes()
    where = f"{name}: {path}"
    if isinstance(shape, Media):
        assert entry.compress_type == zipfile.ZIP_STORED, f"{where}: media are stored, not deflated"
        check_media(where, shape.kind, data)
        return
    assert entry.compress_type == zipfile.ZIP_DEFLATED, f"{where}: data files are deflated"
    if isinstance(shape, Json):
        doc = json.loads(data)
        records = doc if shape.records is None else dig(doc, shape.records, where)
        records = [records] if shape.records is None else records
        assert isinstance(records, list), f"{where}: records at {shape.records} are a list"
        assert records, f"{where}: {RECORDS} records per group give a non-empty file"
        if shape.wrapper:
            assert all(set(r) == {shape.wrapper} for r in records), f"{where}: each record is {{{shape.wrapper!r}: …}}"
            records = [r[shape.wrapper] for r in records]
        check_records(where, records, shape.fields, shape.optional)
    elif isinstance(shape, GeoJson):
        doc = json.loads(data)
        assert doc["type"] == "FeatureCollection", where
        assert doc["features"], where
        for feature in doc["features"]:
            assert feature["type"] == "Feature", where
            assert feature["geometry"]["type"] == "Point", where
            lng, lat = feature["geometry"]["coordinates"]
            assert -180 <= lng <= 180 and -90 <= lat <= 90, (where, feature)
        check_records(where, [f["properties"] for f in doc["features"]], shape.properties, shape.optional)
    elif isinstance(shape, Csv):
        text = data.decode("utf-8")
        for _ in range(shape.preamble):
            line, _, text = text.partition("\n")
            assert line.strip(), f"{where}: an empty preamble line"
        rows = list(csv.reader(io.StringIO(text.lstrip("\n"), newline="")))
        if shape.header is not None:
            assert rows and rows[0] == shape.header, f"{where}: header {rows[:1]} != {shape.header}"
            rows = rows[1:]
        assert rows, f"{where}: rows of data"
        width = len(shape.header) if shape.header is not None else shape.columns
        for row in rows:
            assert len(row) == width, f"{where}: {row}"
            for column, kind in shape.types.items():
                value = row[shape.header.index(column) if isinstance(column, str) else column]
                if value:
                    check_text(f"{where} column {column!r}", kind, value)
    elif isinstance(shape, Html):
        parser = Tags()
        parser.feed(data.decode("utf-8"))
        parser.close()
        assert shape.tags <= parser.tags, f"{where}: tags {shape.tags - parser.tags} missing"
        assert parser.links, f"{where}: links"
        for attrs in parser.links:
            assert shape.links <= set(attrs), f"{where}: <a> without {shape.links - set(attrs)}"
    else:
        raise AssertionError(f"{where}: unknown shape {shape!r}")


def dig(doc, keys, where):
    for key in keys:
        assert isinstance(doc, dict) and key in doc, f"{where}: no {key!r}"
        doc = doc[key]
    return doc


def check_records(where: str, records: list, required: dict, optional: dict) -> None:
    """Every record has every required field with its type; optional fields have their type
    wherever they occur, and each occurs in at least one record."""
    for path, kind in required.items():
        for record in records:
            values = values_at(record, path)
            assert values, f"{where}: {path} missing in {record}"
            for value in values:
                check_json(f"{where}: {path}", kind, value)
    for path, kind in optional.items():
        seen = [v for record in records for v in values_at(record, path)]
        assert seen, f"{where}: the optional {path} occurs in none of {len(records)} records"
        for value in seen:
            check_json(f"{where}: {path}", kind, value)


def values_at(record, path: str) -> list:
    """The values at a field path (``a.b``, ``a[].b``) in one record; [] where it is absent."""
    values = [record]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        found = []
        for v in values:
            if isinstance(v, dict) and key in v:
                if many:
                    assert isinstance(v[key], list), f"{path}: {key} is a list"
                    found.extend(v[key])
                else:
                    found.append(v[key])
        values = found
    return values


def check_json(where: str, kind, value) -> None:
    if kind == "timestamp":
        assert isinstance(value, str) and TIMESTAMP.fullmatch(value), f"{where}: {value!r} is not RFC 3339"
    elif kind == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r}"
    else:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if bool not in kinds:
            assert not isinstance(value, bool), f"{where}: {value!r} is a boolean"
        if float in kinds and int not in kinds and isinstance(value, int):
            return  # JSON writes 1.0 as 1
        assert isinstance(value, kinds), f"{where}: {value!r} is not {kind}"


def check_text(where: str, kind, value: str) -> None:
    if kind == "int":
        assert re.fullmatch(r"-?\d+", value), f"{where}: {value!r}"
    elif kind == "float":
        float(value)
    elif kind == "bool":
        assert value in {"true", "false", "True", "False"}, f"{where}: {value!r}"
    elif kind == "timestamp":
        assert TIMESTAMP.fullmatch(value), f"{where}: {value!r}"
    elif kind == "url":
        assert value.startswith(("http://", "https://")), f"{where}: {value!r}"
    else:
        assert kind is str, f"{where}: unknown text kind {kind!r}"


def check_media(where: str, kind: str, data: bytes) -> None:
    if kind == "jpeg":
        assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", f"{where}: JPEG SOI … EOI"
    elif kind == "mp4":
        # ISO BMFF: boxes of (size, type) that exactly tile the file, `ftyp` first and a `moov`.
        boxes, at = [], 0
        while at < len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            assert size >= 8, f"{where}: box size {size} at {at}"
            boxes.append(data[at + 4 : at + 8])
            at += size
        assert at == len(data), f"{where}: boxes overrun the file"
        assert boxes[0] == b"ftyp" and b"moov" in boxes and b"mdat" in boxes, f"{where}: {boxes}"
    elif kind == "mp3":
        # An ID3v2 tag (its size is synchsafe: 7 bits a byte), then MPEG audio frames (sync 0xFFE).
        assert data[:3] == b"ID3", f"{where}: ID3v2 tag"
        size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
        assert data[size] == 0xFF and data[size + 1] & 0xE0 == 0xE0, f"{where}: MPEG frame sync after the tag"
    elif kind == "kmz":
        with zipfile.ZipFile(io.BytesIO(data)) as kmz:
            kml = kmz.read("doc.kml").decode("utf-8")
        assert "<kml" in kml and "http://www.opengis.net/kml/2.2" in kml, f"{where}: KML 2.2"
        import xml.dom.minidom

        xml.dom.minidom.parseString(kml)
    else:
        raise AssertionError(f"{where}: unknown media kind {kind}")


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "a":
            self.links.append(dict(attrs))


# --------------------------------------------------------------------------- importers


def lower_keys(value):
    """The document with every key lower-cased: importers read archive_browser.json that way."""
    if isinstance(value, dict):
        return {k.lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def import_like_a_takeout_importer(state: dict) -> tuple[str, bytes]:
    """What open-source importers of real Google archives do: urls[0] is the data, the last URL
    the index; the first service's folder and first extracted file (descending into
    ``childFile`` while the entry is a folder) name the file to open in the data part."""
    data = zipfile.ZipFile(io.BytesIO(download(state["urls"][0])))
    index = zipfile.ZipFile(io.BytesIO(download(state["urls"][-1])))
    browser = lower_keys(json.loads(index.read("Portability/archive_browser.json")))
    service = browser["servicestatus"][0]
    assert int(service["extractedfiletotal"]) >= 1 and int(browser["totalsize"]) > 0
    path, entry = [service["foldername"]], service["extractedfile"][0]
    while entry.get("childfile"):
        path.append(entry["name"])
        entry = entry["childfile"][0]
    path.append(entry["name"])
    return "/".join(path), data.read("Portability/" + "/".join(path))


def export_one(server, resource: str) -> dict:
    from conftest import api_for

    svc = api_for(server)(server.mint(resource).token)
    return wait_state(svc, initiate(svc, [resource])["archiveJobId"], until={"COMPLETE"})


def test_an_importer_reads_saved_places_through_the_archive_browser(fidelity_server):
    path, data = import_like_a_takeout_importer(export_one(fidelity_server, "maps.starred_places"))
    assert path == "Maps (your places)/Saved Places.json"
    places = json.loads(data)
    assert places["type"] == "FeatureCollection" and len(places["features"]) >= RECORDS - 1
    located = 0
    for feature in places["features"]:
        lng, lat = feature["geometry"]["coordinates"]
        props = feature["properties"]
        assert props["google_maps_url"].startswith("http://maps.google.com/?")
        assert TIMESTAMP.fullmatch(props["date"])
        # A place Google has no location for carries a Comment instead, at [0, 0].
        if "location" in props:
            assert props["location"]["name"] and props["location"]["address"]
            located += 1
        else:
            assert props["Comment"] and (lng, lat) == (0, 0)
    assert located > len(places["features"]) // 2


def test_an_importer_reads_my_activity_through_the_archive_browser(fidelity_server):
    path, data = import_like_a_takeout_importer(export_one(fidelity_server, "myactivity.youtube"))
    assert path == "My Activity/YouTube/MyActivity.json"
    activity = json.loads(data)
    assert len(activity) >= RECORDS - 1
    assert all(a["header"] == "YouTube" and TIMESTAMP.fullmatch(a["time"]) for a in activity)


def test_googles_quickstart_flow_leaves_one_portability_tree(fidelity_server, tmp_path, capsys):
    """The shape of Google's data-portability-quickstart.py: initiate, poll with backoff,
    download every URL, extractall() into one directory, print the most recent activity."""
    import time
    import urllib.request

    from conftest import api_for

    resources = ["myactivity.search", "myactivity.youtube"]
    svc = api_for(fidelity_server)(fidelity_server.mint(resources).token)
    job_id = svc.portabilityArchive().initiate(body={"resources": resources}).execute()["archiveJobId"]
    delay, deadline = 0.2, time.monotonic() + 60
    while True:
        state = svc.archiveJobs().getPortabilityArchiveState(
            name=f"archiveJobs/{job_id}/portabilityArchiveState"
        ).execute()
        if state["state"] != "IN_PROGRESS":
            break
        assert time.monotonic() < deadline, "the export finishes within a minute"
        time.sleep(delay)
        delay = min(delay * 2, 5)
    assert state["state"] == "COMPLETE", state
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for url in state["urls"]:
        with opener.open(url, timeout=30) as response:
            zipfile.ZipFile(io.BytesIO(response.read())).extractall(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["Portability"], "nothing but Portability/ at the top"
    for resource in resources:
        product = {"myactivity.search": "Search", "myactivity.youtube": "YouTube"}[resource]
        activity = json.loads((tmp_path / "Portability" / "My Activity" / product / "MyActivity.json").read_text())
        newest = activity[0]
        assert newest["time"] == max((a["time"] for a in activity), key=parse_time)
        print(f"most recent {resource}: {newest['title']} at {newest['time']}")
    assert "most recent myactivity.youtube" in capsys.readouterr().out


def parse_time(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))
