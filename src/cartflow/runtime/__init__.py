"""What every layer uses: the state store, the run lock, retries, progress and run logs.

Nothing here imports a layer above it (lake, sources, transform, ...): this package sits
at the bottom of the stack with `cartflow.entities` and `cartflow.config`.
"""
