"""Raw CSV → bronze Parquet on Spark (`[warehouse] engine = "spark"`).

The same contract as `lake.bronze.csv_to_bronze`: every source column as text under its
canonical name, lineage (`_batch_id`, `_source_file`, `_source_row`, `_ingested_at`) and
`_error` for rows the parser could not split, kept so silver can quarantine them. Spark
reads the raw object where it lies (`storage.uri`: a path, or s3:// on a cluster), and
the one output file is uploaded through Storage like every other lake write.

Row numbers: a multi-line CSV is one unsplittable partition, so
`monotonically_increasing_id()` is the 0-based data row in file order.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cartflow.config import CsvOptions
from cartflow.lake.bronze import (OPTIONAL_COLUMNS, ORDER_LINE_COLUMNS, BronzeError, BronzeResult,
                                  bronze_key, bronze_schema, map_header)
from cartflow.lake.storage import Storage

CORRUPT = "_corrupt_record"
_CHARSETS = {"latin-1": "ISO-8859-1", "latin1": "ISO-8859-1", "iso-8859-1": "ISO-8859-1",
             "utf-8": "UTF-8", "utf8": "UTF-8", "cp1252": "windows-1252"}


def csv_to_bronze_spark(spark: Any, storage: Storage, raw_key: str, *, source: str, entity: str,
                        batch_id: str, source_file: str, ingested_at: datetime,
                        options: CsvOptions) -> BronzeResult:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    uri = storage.uri(raw_key)
    if storage.size(raw_key) == 0:
        raise BronzeError(f"{source}: {source_file}: the file is empty (no header row): "
                          "re-export it, or remove it from the landing directory")
    reader = (spark.read.option("header", True).option("multiLine", True)
              .option("encoding", _CHARSETS.get(options.encoding.lower().replace("_", "-"), options.encoding))
              .option("sep", options.delimiter).option("quote", options.quote).option("escape", options.quote)
              .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT))
    header = reader.csv(uri).columns
    mapping, extra = map_header(header, source, source_file)
    schema = StructType([StructField(h, StringType()) for h in header] + [StructField(CORRUPT, StringType())])
    df = reader.schema(schema).csv(uri)
    if df.rdd.getNumPartitions() != 1:  # row numbers below rely on one partition in file order
        df = df.coalesce(1)
    bad = F.col(CORRUPT).isNotNull()
    text = lambda c: F.when(bad | (F.col(c) == ""), F.lit(None)).otherwise(F.col(c))  # noqa: E731
    columns = {
        **{c: text(mapping[c]) for c in ORDER_LINE_COLUMNS},
        **{c: F.lit(None).cast("string") for c in OPTIONAL_COLUMNS},
        "_batch_id": F.lit(batch_id),
        "_source_file": F.lit(source_file),
        "_source_row": (F.monotonically_increasing_id() + 1).cast("bigint"),
        "_ingested_at": F.lit(ingested_at.replace(tzinfo=None)).cast("timestamp_ntz"),
        "_error": F.when(bad, F.concat(F.lit("malformed row: "), F.col(CORRUPT))),
        "_source": F.lit(source),
    }
    schema_fields = list(bronze_schema())
    unknown = [f.name for f in schema_fields if f.name not in columns and not pa.types.is_string(f.type)]
    if unknown:
        raise BronzeError(f"{source}: {source_file}: the Spark bronze converter does not know the bronze "
                          f"column(s) {', '.join(unknown)}: add them to lake/spark_bronze.py")
    # exactly the columns, in the order, of the DuckDB/Arrow bronze files (new text columns: NULL)
    out = df.select(*[columns.get(f.name, F.lit(None).cast("string")).alias(f.name) for f in schema_fields])
    key = bronze_key(entity, batch_id)
    with tempfile.TemporaryDirectory(prefix="cf-spark-bronze-") as tmp:
        target = Path(tmp) / "out"
        out.write.option("compression", "zstd").parquet(str(target))
        part = next(target.glob("part-*.parquet"))
        counts = _counts(part)
        storage.write_file(key, part)
    warnings = [f"{source}: {source_file}: extra column {c!r} ignored" for c in extra]
    return BronzeResult(key=key, rows=counts[0], malformed_rows=counts[1], warnings=warnings)


def _counts(part: Path) -> tuple[int, int]:
    """(rows, malformed rows) from the written file, so Spark runs no second job over the CSV."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    errors = pq.read_table(part, columns=["_error"]).column("_error")
    return len(errors), int(pc.count(errors))
