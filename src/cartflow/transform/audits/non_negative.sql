/*
  Amounts that cannot be negative by definition (gross sales, returns as absolute values).
  Usage: non_negative(columns := (gross_sales, returns))
*/
AUDIT (
  name non_negative,
  blocking true
);

SELECT *
FROM @this_model
WHERE @OR(@EACH(@columns, c -> c < 0))
