"""A small, careful HTTP client for DICOMweb: credentials from the environment or a file, TLS verified,
bounded retries with backoff, time-outs, and errors that never contain a credential."""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from protocheck.errors import NetworkError

log = logging.getLogger("protocheck.dicomweb")

ENV_TOKEN = "PROTOCHECK_DICOMWEB_TOKEN"
ENV_USER = "PROTOCHECK_DICOMWEB_USER"
ENV_PASSWORD = "PROTOCHECK_DICOMWEB_PASSWORD"
AUTH_FIX = (f"set {ENV_TOKEN} (bearer token) or {ENV_USER} and {ENV_PASSWORD} in the environment, "
            "or give --auth-file with 'token=...' or 'user=...' and 'password=...' lines")


@dataclass(frozen=True)
class Credentials:
    """HTTP credentials: a bearer token, or a user and password (basic). Never printed."""

    token: str | None = None
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:   # never leak a secret through a log or a traceback
        kind = "token" if self.token else ("basic" if self.user else "none")
        return f"Credentials(<{kind}>)"


def _parse_auth_text(text: str) -> dict[str, str]:
    """``key=value`` lines (or a JSON object) -> dict with lower-case keys."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {str(k).lower(): str(v) for k, v in data.items()}
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip().lower()] = value.strip()
    return out


def load_credentials(auth_file: str | os.PathLike | None = None,
                     env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``auth_file`` if given, else from the environment; None when there are none."""
    env = os.environ if env is None else env
    if auth_file is not None:
        path = Path(auth_file)
        try:
            data = _parse_auth_text(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise NetworkError(f"cannot read the credentials file ({exc.strerror})", path=str(path),
                               fix="give a readable file with 'token=...' or 'user=...'/'password=...'") from None
        token, user, password = data.get("token"), data.get("user"), data.get("password")
        if not token and not user:
            raise NetworkError("no 'token' and no 'user' entry in the credentials file", path=str(path),
                               fix=AUTH_FIX)
        if token:
            return Credentials(token=token)
        return Credentials(user=user, password=password or "")
    if env.get(ENV_TOKEN):
        return Credentials(token=env[ENV_TOKEN])
    if env.get(ENV_USER):
        return Credentials(user=env[ENV_USER], password=env.get(ENV_PASSWORD, ""))
    return None


def safe_url(url: str) -> str:
    """The URL without any user-info part and without query string (safe to print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class HttpClient:
    """GET JSON and bulk data from one server with retries, time-outs and clear errors."""

    def __init__(self, base_url: str, *, credentials: Credentials | None = None,
                 ca_bundle: str | os.PathLike | None = None, insecure: bool = False,
                 timeout: float = 30.0, connect_timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5) -> None:
        import requests  # optional dependency ("net" extra)

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetworkError("not an http(s) URL", path=safe_url(base_url),
                               fix="give the DICOMweb root, e.g. https://pacs.example.org/dicom-web")
        if parts.username or parts.password:
            raise NetworkError("credentials inside the URL are refused (they would show in process "
                               "lists and logs)", path=safe_url(base_url), fix=AUTH_FIX)
        self.base = base_url.rstrip("/")
        self.shown = safe_url(self.base)
        self.timeout = (connect_timeout, timeout)
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.session = requests.Session()
        self.session.trust_env = False   # no netrc / proxy credentials picked up behind the user's back
        self.session.verify = False if insecure else (str(ca_bundle) if ca_bundle else True)
        if insecure:
            log.warning("TLS certificate verification is OFF (--insecure) for %s", self.shown)
        if credentials and credentials.token:
            self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        elif credentials and credentials.user:
            self.session.auth = (credentials.user, credentials.password or "")
        self.requests_made = 0

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base}/{path.lstrip('/')}"

    def _request(self, url: str, params: dict[str, Any] | None, accept: str):
        """One GET with bounded retries on connection errors, time-outs and 5xx answers."""
        import requests

        shown = safe_url(url)
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 10.0))
            self.requests_made += 1
            try:
                resp = self.session.get(url, params=params, headers={"Accept": accept},
                                        timeout=self.timeout)
            except requests.exceptions.SSLError:
                raise NetworkError("TLS certificate verification failed", path=shown,
                                   fix="give the site's CA with --ca-bundle (or, only if you accept "
                                       "the risk, --insecure)") from None
            except requests.exceptions.Timeout:
                last = f"no answer within {self.timeout[1]:g} s (time-out)"
                log.info("DICOMweb %s: %s, attempt %d", shown, last, attempt + 1)
                continue
            except requests.exceptions.ConnectionError:
                last = "cannot connect (server unreachable, wrong host/port, or connection refused)"
                log.info("DICOMweb %s: %s, attempt %d", shown, last, attempt + 1)
                continue
            except requests.exceptions.RequestException as exc:
                raise NetworkError(f"request failed ({type(exc).__name__})", path=shown,
                                   fix="check the URL") from None
            if resp.status_code >= 500:
                last = f"server error HTTP {resp.status_code}"
                continue
            return self._check_status(resp, shown)
        raise NetworkError(f"{last}; gave up after {self.retries + 1} attempts", path=shown,
                           fix="check the URL and that the server is running and reachable; "
                               "slow servers: raise --timeout")

    def _check_status(self, resp: Any, shown: str) -> Any:
        code = resp.status_code
        if code in (401, 403):
            what = "requires credentials" if code == 401 else "refused access with these credentials"
            raise NetworkError(f"the server {what} (HTTP {code})", path=shown, fix=AUTH_FIX)
        if code == 404:
            raise NetworkError("not found (HTTP 404)", path=shown,
                               fix="check the DICOMweb root URL and the study UID")
        if code >= 400:
            raise NetworkError(f"the server refused the request (HTTP {code})", path=shown,
                               fix="check the URL and the query (--since date as YYYY-MM-DD)")
        return resp

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a DICOM JSON answer; 204 No Content is an empty list."""
        url = self._url(path)
        resp = self._request(url, params, "application/dicom+json, application/json")
        if resp.status_code == 204 or not resp.content.strip():
            return []
        try:
            return json.loads(resp.content)
        except ValueError:
            raise NetworkError("the server answered with malformed JSON", path=safe_url(url),
                               fix="check that the URL is the DICOMweb root (QIDO-RS/WADO-RS), "
                                   "not a web page or a proxy login") from None

    def get_bulk(self, uri: str) -> bytes:
        """GET one bulk data value (multipart/related or raw octet-stream) as bytes."""
        url = self._url(uri)
        resp = self._request(url, None, 'multipart/related; type="application/octet-stream", '
                                        "application/octet-stream")
        ctype = resp.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/"):
            return first_multipart_part(resp.content, ctype, safe_url(url))
        return resp.content


def first_multipart_part(body: bytes, content_type: str, shown: str) -> bytes:
    """The payload of the first part of a multipart/related body."""
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True)
        if payload is not None:
            return payload
    raise NetworkError("empty multipart answer for a bulk data value", path=shown,
                       fix="check the server's WADO-RS bulk data support")
