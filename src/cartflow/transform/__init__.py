"""The SQLMesh project (silver + gold order-line models) and its runner (runner.py).

Import the runner explicitly (``from cartflow.transform.runner import transform``):
importing SQLMesh takes a second, and this package must stay cheap to import.
"""
