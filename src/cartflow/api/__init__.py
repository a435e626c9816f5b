"""The HTTP API: order-line ingest, purchase history, health, metrics (FastAPI)."""
