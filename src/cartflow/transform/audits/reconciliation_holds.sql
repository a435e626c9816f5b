/*
  Every row of a batch is accounted for: bronze = silver + quarantine.
  Returns the batches that break it (an audit fails when it returns rows).
*/
AUDIT (
  name reconciliation_holds,
  blocking true
);

SELECT *
FROM @this_model
WHERE bronze_rows <> silver_rows + quarantine_rows
