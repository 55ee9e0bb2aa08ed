"""Everything a person (or a script) reads: tables, CSV and JSON writers.

See :mod:`starbrain.report.tables` for the formats behind every command's ``--format``.
"""

from starbrain.report.tables import (
    OutputFormat,
    emit,
    plain_rows,
    print_view,
    rich_table,
    write_csv,
    write_json,
)

__all__ = [
    "OutputFormat",
    "emit",
    "plain_rows",
    "print_view",
    "rich_table",
    "write_csv",
    "write_json",
]
