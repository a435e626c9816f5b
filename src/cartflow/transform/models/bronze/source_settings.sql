/*
  bronze.source_settings: per-source rules from cartflow.toml, one row per source.

  Written by the pipeline before each transform (cartflow.pipeline.entity_settings):
  the currency of amounts that carry none, the base of exchange-rate rows that name
  none, and how day/month dates are read. Silver joins it on each row's `_source`.
*/
MODEL (
  name bronze.source_settings,
  kind VIEW,
  description 'Per-source standardization rules from cartflow.toml.',
  columns (
    source VARCHAR,
    entity VARCHAR,
    kind VARCHAR,
    currency VARCHAR,
    rate_base VARCHAR,
    ambiguous_dates VARCHAR,
    slash_dates VARCHAR,
    dash_dates VARCHAR,
    dot_dates VARCHAR
  )
);

SELECT
  CAST(source AS VARCHAR) AS source,
  CAST(entity AS VARCHAR) AS entity,
  CAST(kind AS VARCHAR) AS kind,
  CAST(currency AS VARCHAR) AS currency,
  CAST(rate_base AS VARCHAR) AS rate_base,
  CAST(ambiguous_dates AS VARCHAR) AS ambiguous_dates,
  CAST(slash_dates AS VARCHAR) AS slash_dates,
  CAST(dash_dates AS VARCHAR) AS dash_dates,
  CAST(dot_dates AS VARCHAR) AS dot_dates
FROM READ_PARQUET(@source_settings)
