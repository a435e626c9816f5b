"""The dashboard: charts over the published marts, served at /dashboard or written as one HTML report."""
