"""`cartflow serve`: uvicorn around the app, one process or several workers."""

from __future__ import annotations

import logging
import os

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from cartflow.config import Project


def serve(project: Project, *, host: str | None = None, port: int | None = None, consumers: bool = True,
          workers: int = 1, access_log: bool = False, log_level: str = "info",
          log_config: dict | None = None) -> None:
    """Serve until SIGINT/SIGTERM; on shutdown the sinks flush and commit before the process exits.

    With several workers each one runs the sinks too: on the SQLite log one member per
    consumer group is active and the others stand by; on Kafka the partitions are shared.
    """
    host = host or project.config.api.host
    port = port or project.config.api.port
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs = log_config or LOGGING_CONFIG  # the CLI passes uvicorn's lines in cartflow's log format
    if workers > 1:
        from cartflow.api.app import ENV_CONSUMERS, ENV_PROJECT

        os.environ[ENV_PROJECT] = str(project.root)
        os.environ[ENV_CONSUMERS] = "1" if consumers else "0"
        uvicorn.run("cartflow.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    access_log=access_log, log_level=log_level, timeout_graceful_shutdown=30, log_config=logs)
        return
    from cartflow.api.app import create_app
    from cartflow.stream.service import open_services

    services = open_services(project)  # fail here, with a clear message, when the log or store is unreachable
    try:
        if consumers:
            services.start_sinks()
        uvicorn.run(create_app(project, consumers=consumers, services=services), host=host, port=port,
                    access_log=access_log, log_level=log_level, timeout_graceful_shutdown=30, log_config=logs)
    finally:
        services.shutdown()  # a no-op when the app's shutdown already did it
