"""Keys: writes need one of the `[api] api_key_env` keys; reads, when configured, one of `read_key_env`.

Purchase history is personal data and customer ids are sequential, so a deployment that
can be reached by others sets a read key; without one, reads stay open (the laptop demo).
A read key is accepted as `X-API-Key`, as `Authorization: Bearer <key>`, or as the
password of HTTP Basic auth, which is what lets a person open `/dashboard` in a browser:
the browser asks for it once and sends it with the page's own requests.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cartflow.api.errors import ApiError
from cartflow.api.schemas import ErrorBody
from cartflow.config import Project

READ_KEY_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorBody, "description": "A read key is configured ([api] read_key_env) and was not sent"}}

read_key_header = APIKeyHeader(name="X-API-Key", scheme_name="ReadKey", auto_error=False,
                               description="A key from the environment variable named by [api] read_key_env "
                                           "(only when that variable is set).")
read_key_bearer = HTTPBearer(scheme_name="ReadBearer", auto_error=False,
                             description="The same read key as `Authorization: Bearer <key>`.")


def env_keys(name: str) -> list[str]:
    """The keys in an environment variable: several, comma-separated, so a key can be rotated."""
    return [k.strip() for k in os.environ.get(name, "").split(",") if k.strip()]


def read_keys(project: Project) -> list[str]:
    return env_keys(project.config.api.read_key_env)


def matches(given: str, keys: list[str]) -> bool:
    """Constant-time comparison against every key."""
    return any(hmac.compare_digest(given.encode(), k.encode()) for k in keys)


async def require_read_key(request: Request, api_key: str | None = Security(read_key_header),
                           bearer: HTTPAuthorizationCredentials | None = Security(read_key_bearer)) -> None:
    """Let the request through when no read key is configured or it carries one of them; else 401."""
    keys: list[str] = request.app.state.read_keys
    if not keys:
        return
    given = [api_key, bearer.credentials if bearer else None, _basic_password(request)]
    if any(g and matches(g, keys) for g in given):
        return
    env = request.app.state.project.config.api.read_key_env
    wrong = any(given)
    browser = request.url.path.startswith("/dashboard")
    raise ApiError(401, "unauthorized",
                   ("the key is not one of the read keys in " + env) if wrong else
                   f"this server's reads need a key (set in {env}): send it as X-API-Key or "
                   "'Authorization: Bearer <key>'" + ("; in a browser, as the password" if browser else ""),
                   headers={"WWW-Authenticate": 'Basic realm="cartflow", charset="UTF-8"' if browser
                            else 'Bearer realm="cartflow"'})


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
