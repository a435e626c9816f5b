"""The Glue-style approach: PySpark DataFrames in local mode (`local[2]`), same rules and outputs.

    python -m benchmarks.impl_spark CSV_DIR OUT_DIR

Needs the `spark` extra (pyspark) and a Java runtime.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.harness import emit

NAMES = ["invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price",
         "customer_id", "country"]
NON_PRODUCTS = ["POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B"]


def main(csv_dir: str, out_dir: str) -> None:
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master("local[2]").appName("cartflow-bench")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "2g")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.ansi.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    out = Path(out_dir)

    raw = (spark.read.option("header", True).option("encoding", "ISO-8859-1")
           .option("inferSchema", False).csv(str(Path(csv_dir) / "*.csv"))
           .toDF(*NAMES)
           .withColumn("_source_file", F.input_file_name())
           .withColumn("_source_row", F.monotonically_increasing_id()))

    def blank(c: str):
        return F.when(F.trim(F.col(c)) == "", None).otherwise(F.trim(F.col(c)))

    dec = "decimal(18,3)"
    t = raw.select(
        *[F.col(c).alias(f"raw_{c}") for c in NAMES], "_source_file", "_source_row",
        *[blank(c).alias(f"t_{c}") for c in NAMES],
    )
    qty_num = F.col("t_quantity").cast(dec)
    cust_num = F.col("t_customer_id").cast(dec)
    first = F.upper(F.substring("t_invoice_no", 1, 1))
    dup_window = Window.partitionBy("_source_file", *[f"raw_{c}" for c in NAMES]).orderBy("_source_row")
    typed = t.select(
        "*",
        F.upper("t_stock_code").alias("stock_code"),
        F.when((qty_num == F.floor(qty_num)) & (F.abs(qty_num) <= 2147483647),
               qty_num.cast("int")).alias("quantity"),
        F.col("t_unit_price").cast(dec).alias("unit_price"),
        F.to_timestamp("t_invoice_date", "M/d/yyyy H:mm").alias("invoice_ts"),
        F.when((cust_num > 0) & (cust_num == F.floor(cust_num)),
               cust_num.cast("bigint").cast("string")).alias("customer_id"),
        F.when(first == "C", "cancellation").when(first == "A", "adjustment")
         .otherwise("sale").alias("line_type"),
        F.row_number().over(dup_window).alias("copy_number"),
    )
    sale = F.col("line_type") == "sale"
    rules = [
        (F.col("t_invoice_no").isNull(), "missing_field:invoice_no", "invoice_no"),
        (F.col("t_stock_code").isNull(), "missing_field:stock_code", "stock_code"),
        (F.col("t_quantity").isNull(), "missing_field:quantity", "quantity"),
        (F.col("t_invoice_date").isNull(), "missing_field:invoice_date", "invoice_date"),
        (F.col("t_unit_price").isNull(), "missing_field:unit_price", "unit_price"),
        (F.col("quantity").isNull(), "unparseable:quantity", "quantity"),
        (F.col("unit_price").isNull(), "unparseable:unit_price", "unit_price"),
        (F.col("invoice_ts").isNull(), "unparseable:invoice_date", "invoice_date"),
        (F.col("t_customer_id").isNotNull() & F.col("customer_id").isNull(),
         "unparseable:customer_id", "customer_id"),
        (F.col("copy_number") > 1, "duplicate_row", None),
        ((F.col("quantity") < 0) & sale, "stock_note", "quantity"),
        (F.col("quantity") == 0, "zero_quantity", "quantity"),
        (sale & (F.col("unit_price") <= 0), "non_positive_price_sale", "unit_price"),
        ((F.col("line_type") == "cancellation") & (F.col("quantity") > 0),
         "cancellation_positive_quantity", "quantity"),
    ]
    reason = F.lit(None).cast("string")
    field = F.lit(None).cast("string")
    for cond, r, f in reversed(rules):
        reason = F.when(cond, r).otherwise(reason)
        field = F.when(cond, f).otherwise(field)
    classified = typed.select("*", reason.alias("reason"), field.alias("field"))
    raw_value = F.lit(None).cast("string")
    for c in NAMES:
        raw_value = F.when(F.col("field") == c, F.col(f"raw_{c}")).otherwise(raw_value)
    classified = classified.withColumn("raw_value", raw_value).cache()

    silver = classified.where(F.col("reason").isNull()).select(
        F.col("t_invoice_no").alias("invoice_no"), "stock_code",
        F.col("t_description").alias("description"), "quantity", "unit_price", "invoice_ts",
        F.to_date("invoice_ts").alias("invoice_date"), "customer_id",
        F.col("t_country").alias("country"), "line_type", F.lit("GBP").alias("currency"),
        "_source_file", "_source_row")
    quarantine = classified.where(F.col("reason").isNotNull()).select(
        *[f"raw_{c}" for c in NAMES], "reason", "field", "raw_value", "_source_file", "_source_row")
    silver.write.mode("overwrite").parquet(str(out / "order_lines"))
    quarantine.write.mode("overwrite").parquet(str(out / "quarantine_order_lines"))

    lines = spark.read.parquet(str(out / "order_lines"))
    amount = F.col("quantity") * F.col("unit_price")
    is_sale = sale & (F.col("quantity") > 0) & (F.col("unit_price") > 0)
    is_cancel = F.col("line_type") == "cancellation"
    lines = lines.select(
        "*", is_sale.alias("is_sale"), is_cancel.alias("is_cancel"),
        F.when(is_sale, amount).otherwise(0).alias("gross_amount"),
        F.when(is_cancel, F.abs(amount)).otherwise(0).alias("return_amount"),
    ).withColumn("net_amount", F.col("gross_amount") - F.col("return_amount")).cache()

    sale_invoice = F.when(F.col("is_sale"), F.col("invoice_no"))
    (lines.groupBy(F.trunc("invoice_date", "month").alias("period_start"))
     .agg(F.sum("gross_amount").alias("gross_sales"), F.sum("return_amount").alias("returns"),
          F.sum("net_amount").alias("net_revenue"),
          F.countDistinct(sale_invoice).alias("orders"),
          F.countDistinct(F.when(F.col("is_sale"), F.col("customer_id"))).alias("customers"))
     .withColumn("avg_order_value",
                 F.round(F.col("gross_sales") / F.when(F.col("orders") > 0, F.col("orders")), 3))
     .write.mode("overwrite").parquet(str(out / "mart_revenue_monthly")))

    current = (lines.where(F.col("description").isNotNull())
               .withColumn("rn", F.row_number().over(Window.partitionBy("stock_code").orderBy(
                   F.col("invoice_ts").desc(), F.col("description").desc())))
               .where("rn = 1").select("stock_code", "description"))
    month = F.month("invoice_date")
    products = lines.where((F.col("is_sale") | F.col("is_cancel"))
                           & ~F.col("stock_code").isin(NON_PRODUCTS)
                           & ~F.col("stock_code").startswith("GIFT_")
                           & ~F.col("stock_code").startswith("DCGS"))
    grouped = (products.select(
        "stock_code", "quantity", "net_amount",
        F.when(month.isin(12, 1, 2), "winter").when(month.isin(3, 4, 5), "spring")
         .when(month.isin(6, 7, 8), "summer").otherwise("autumn").alias("season"),
        (F.year("invoice_date") + F.when(month == 12, 1).otherwise(0)).alias("season_year"))
        .groupBy("season_year", "season", "stock_code")
        .agg(F.sum("net_amount").alias("revenue"), F.sum("quantity").alias("quantity")))
    by_season = Window.partitionBy("season_year", "season")
    tops = []
    for ranking in ("revenue", "quantity"):
        tops.append(grouped.withColumn("rank", F.row_number().over(
            by_season.orderBy(F.col(ranking).desc(), "stock_code")))
            .where("rank <= 10").withColumn("ranking", F.lit(ranking)))
    (tops[0].unionByName(tops[1]).join(current, "stock_code", "left")
     .write.mode("overwrite").parquet(str(out / "mart_top_products_by_season")))

    last_date = lines.agg(F.max("invoice_date")).first()[0]
    known = lines.where(F.col("customer_id").isNotNull())
    rfm = (known.groupBy("customer_id")
           .agg(F.max(F.when(F.col("is_sale"), F.col("invoice_date"))).alias("last_purchase_date"),
                F.countDistinct(sale_invoice).alias("frequency"),
                F.sum("net_amount").alias("monetary"))
           .where("frequency > 0")
           .withColumn("recency_days", F.datediff(F.lit(last_date), F.col("last_purchase_date"))))
    rfm = (rfm.withColumn("r_score", F.ntile(5).over(Window.orderBy(F.col("recency_days").desc(), "customer_id")))
              .withColumn("f_score", F.ntile(5).over(Window.orderBy("frequency", "customer_id")))
              .withColumn("m_score", F.ntile(5).over(Window.orderBy("monetary", "customer_id"))))
    r, f, m = F.col("r_score"), F.col("f_score"), F.col("m_score")
    segment = (F.when((r >= 4) & (f >= 4) & (m >= 4), "Champions").when((r >= 3) & (f >= 4), "Loyal")
               .when((r >= 4) & (f == 1), "New").when(r >= 4, "Potential loyalist")
               .when((r <= 2) & (f >= 3), "At risk").when(r == 3, "Need attention")
               .when((r == 1) & (f == 1), "Lost").otherwise("Hibernating"))
    rfm = rfm.withColumn("segment", segment).withColumn(
        "rfm_score", F.concat(r.cast("string"), f.cast("string"), m.cast("string")))
    rfm.write.mode("overwrite").parquet(str(out / "mart_customer_rfm"))

    counts = {r["reason"]: r["count"] for r in
              spark.read.parquet(str(out / "quarantine_order_lines")).groupBy("reason").count().collect()}
    result = {
        "raw_rows": raw.count(),
        "silver_rows": spark.read.parquet(str(out / "order_lines")).count(),
        "quarantine_rows": sum(counts.values()),
        "quarantine": counts,
        "rfm_customers": spark.read.parquet(str(out / "mart_customer_rfm")).count(),
    }
    spark.stop()
    emit(result)


if __name__ == "__main__":
    main(*sys.argv[1:3])
