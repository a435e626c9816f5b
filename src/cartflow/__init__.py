"""cartflow: an e-commerce data platform, from one laptop to S3, Kafka, Spark and PostgreSQL."""

__version__ = "0.1.0"
