"""The lake: where batches are kept, zone by zone (raw, bronze, published marts), on a local disk or S3.

* `storage`: the `Storage` protocol, `LocalStorage`, `open_storage(uri)` and `open_lake(project)`
  (S3 in `s3`, loaded only for an `s3://` lake);
* `raw`: landing a batch byte for byte, content-hashed, and recording a rejected file with its reason;
* `bronze` (with `bronze_readers`, `bronze_columns`): one raw batch to Parquet in the entity's
  canonical columns plus lineage, every value kept as text;
* `marts`: the published zone (one Parquet object per table); `records`: records inside JSON
  documents (a dotted path, Frankfurter rate pages).
"""

from __future__ import annotations

from cartflow.lake.storage import LocalStorage, Storage, open_lake, open_storage

__all__ = ["LocalStorage", "Storage", "open_lake", "open_storage"]
