"""Element sets written as OMM text: CelesTrak-style JSON and CSV, CCSDS KVN and XML."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pyarrow as pa

from starbrain.core import timeconv
from starbrain.sources.catalogs.omm_keywords import OMM_FIELDS


def _omm_records(table: pa.Table) -> list[dict[str, Any]]:
    epochs = table.column("epoch").to_numpy().astype("datetime64[us]")
    cols = table.to_pydict()
    out = []
    for k in range(table.num_rows):
        rec: dict[str, Any] = {}
        for key, (column, kind, _) in OMM_FIELDS.items():
            if kind == "time":
                rec[key] = str(epochs[k])
            else:
                rec[key] = cols[column][k]
        out.append(rec)
    return out


_XML_GROUPS = {
    "meanElements": (
        "EPOCH",
        "MEAN_MOTION",
        "ECCENTRICITY",
        "INCLINATION",
        "RA_OF_ASC_NODE",
        "ARG_OF_PERICENTER",
        "MEAN_ANOMALY",
    ),
    "tleParameters": (
        "EPHEMERIS_TYPE",
        "CLASSIFICATION_TYPE",
        "NORAD_CAT_ID",
        "ELEMENT_SET_NO",
        "REV_AT_EPOCH",
        "BSTAR",
        "MEAN_MOTION_DOT",
        "MEAN_MOTION_DDOT",
    ),
}


def write_omm(table: pa.Table, fmt: str = "json") -> str:
    """Element sets as OMM text: 'json' (CelesTrak style), 'csv', 'kvn' or 'xml'."""
    records = _omm_records(table)
    if fmt == "json":
        return json.dumps(records, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(OMM_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
        return buf.getvalue()
    if fmt == "kvn":
        lines = []
        for r in records:
            lines += [
                "CCSDS_OMM_VERS = 2.0",
                "CREATION_DATE = " + str(timeconv.utc_now().astype("datetime64[s]")),
                "ORIGINATOR = starbrain",
            ]
            lines += [f"{k} = {v}" for k, v in r.items() if v is not None]
            lines += [
                "MEAN_ELEMENT_THEORY = SGP4",
                "CENTER_NAME = EARTH",
                "REF_FRAME = TEME",
                "TIME_SYSTEM = UTC",
                "",
            ]
        return "\n".join(lines)
    if fmt == "xml":
        root = ET.Element("ndm")
        for r in records:
            omm = ET.SubElement(root, "omm", id="CCSDS_OMM_VERS", version="2.0")
            segment = ET.SubElement(ET.SubElement(omm, "body"), "segment")
            meta = ET.SubElement(segment, "metadata")
            for k, v in (
                ("OBJECT_NAME", r["OBJECT_NAME"]),
                ("OBJECT_ID", r["OBJECT_ID"]),
                ("CENTER_NAME", "EARTH"),
                ("REF_FRAME", "TEME"),
                ("TIME_SYSTEM", "UTC"),
                ("MEAN_ELEMENT_THEORY", "SGP4"),
            ):
                if v is not None:
                    ET.SubElement(meta, k).text = str(v)
            data = ET.SubElement(segment, "data")
            for group, keys in _XML_GROUPS.items():
                el = ET.SubElement(data, group)
                for k in keys:
                    if r[k] is not None:
                        ET.SubElement(el, k).text = str(r[k])
        return ET.tostring(root, encoding="unicode") + "\n"
    raise ValueError(f"unknown OMM format {fmt!r}; use json, csv, kvn or xml")
