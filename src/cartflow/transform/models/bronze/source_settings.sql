/*
  bronze.source_settings: per-source rules from cartflow.toml, one row per source.

  Written by the pipeline before each transform (cartflow.pipeline.entity_settings):
  the currency of amounts that carry none, the base of exchange-rate rows that name
  none, how day/month dates are read, the source's timestamp format, the shop's time
  zone, and this run's date window (the contract's bounds move with "now": as data, they
  leave the models' fingerprints alone). Silver joins it on each row's `_source`.
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
    dot_dates VARCHAR,
    date_format VARCHAR,
    timezone VARCHAR,
    window_start TIMESTAMP,
    window_end TIMESTAMP
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
  CAST(dot_dates AS VARCHAR) AS dot_dates,
  CAST(date_format AS VARCHAR) AS date_format,
  CAST(timezone AS VARCHAR) AS timezone,
  CAST(window_start AS TIMESTAMP) AS window_start,
  CAST(window_end AS TIMESTAMP) AS window_end
FROM READ_PARQUET(@source_settings)
