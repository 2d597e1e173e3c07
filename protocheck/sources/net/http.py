"""A small, careful HTTP client for DICOMweb: credentials from the environment or a file, TLS verified,
bounded retries with backoff, time-outs, and errors that never contain a credential.

Hostile servers are expected: every answer is read in chunks with a cap on its bytes as sent and as
decoded (gzip/deflate inflated here, never by the library in one go), each request has an overall
deadline (a server that drips a byte now and then is cut off), and a URL the server names is fetched only
from the base URL's scheme, host and port, so credentials never go to another host."""

from __future__ import annotations

import email.parser
import email.policy
import json
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

from protocheck import jsonsafe
from protocheck.errors import NetworkError
from protocheck.logs import logger

log = logger("protocheck.dicomweb")

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


MAX_RESPONSE_BYTES = 64 * 1024 * 1024     # one answer, as sent and as decoded (a series' metadata is far less)
DEADLINE_FACTOR = 10.0      # one request's overall deadline: this many read time-outs (300 s for --timeout 30)
CHUNK = 16 * 1024
STEP = 1024 * 1024          # decoded bytes produced per call
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 32 + zlib.MAX_WBITS}


class TooLarge(NetworkError):
    """An answer larger than the client's cap (as sent or decoded): not read."""


class ForeignURL(NetworkError):
    """A URL named by the server points at another scheme, host or port than the base URL: not fetched."""


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port made explicit for http/https."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def safe_url(url: str) -> str:
    """The URL without any user-info part and without query string (safe to print)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _loopback(host: str) -> bool:
    """True for a host name or address of this machine's loopback interface."""
    import ipaddress
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpClient:
    """GET JSON and bulk data from one server with retries, time-outs and clear errors."""

    def __init__(self, base_url: str, *, credentials: Credentials | None = None,
                 ca_bundle: str | os.PathLike | None = None, insecure: bool = False,
                 timeout: float = 30.0, connect_timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5, max_bytes: int = MAX_RESPONSE_BYTES,
                 deadline: float | None = None, pool: int = 1) -> None:
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
        self.max_bytes = int(max_bytes)
        self.deadline = float(deadline) if deadline is not None else DEADLINE_FACTOR * timeout
        self.origin = origin(self.base)
        # compressed answers only from another machine: on this one, compressing costs the server more than
        # the bytes it saves (a series' metadata is ~10x smaller gzipped, and ~1.3x slower to produce)
        self.encodings = "identity" if _loopback(self.origin[1]) else "gzip, deflate"
        self.session = requests.Session()
        if pool > 10:   # requests keeps 10 connections per host: one per thread that may ask at once
            adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.session.trust_env = False   # no netrc / proxy credentials picked up behind the user's back
        self.session.verify = False if insecure else (str(ca_bundle) if ca_bundle else True)
        if insecure:
            log.warning("TLS certificate verification is OFF (--insecure) for %s", self.shown)
        if credentials and credentials.token:
            self.session.headers["Authorization"] = f"Bearer {credentials.token}"
        elif credentials and credentials.user:
            self.session.auth = (credentials.user, credentials.password or "")
        self.requests_made = 0   # counted under a lock: series are requested from several threads
        self._count = threading.Lock()

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base}/{path.lstrip('/')}"

    def same_origin_url(self, uri: str) -> str:
        """``uri`` (absolute or relative to the base) if it lies on the base URL's scheme, host and port;
        else ForeignURL (the caller skips it: credentials never go to a host the server names)."""
        url = urljoin(self.base + "/", uri) if "://" in uri or uri.startswith("//") else self._url(uri)
        if origin(url) != self.origin:
            raise ForeignURL("the server names a bulk data URL on another scheme, host or port than the "
                             f"DICOMweb root ({safe_url(url)}): not fetched, so no credential is sent there",
                             path=self.shown, fix="ask the PACS administrator to serve bulk data from the "
                                                  "DICOMweb root's own host")
        return url

    def _request(self, url: str, params: dict[str, Any] | None, accept: str):
        """One GET with bounded retries on connection errors, time-outs and 5xx answers."""
        import requests

        shown = safe_url(url)
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 10.0))
            with self._count:
                self.requests_made += 1
            try:
                resp = self._get_within_deadline(url, params, accept, shown)
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
                resp.close()
                continue
            try:
                self._check_status(resp, shown)
                return resp, self._body(resp, shown)
            finally:
                resp.close()
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

    def _get_within_deadline(self, url: str, params: dict[str, Any] | None, accept: str, shown: str) -> Any:
        """The GET up to its headers, abandoned at the overall deadline (a server may drip its status line and
        headers a byte at a time, each within the read time-out); the body is read by ``_body``."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["resp"] = self.session.get(url, params=params, timeout=self.timeout, stream=True,
                                               headers={"Accept": accept, "Accept-Encoding": self.encodings})
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
                box["exc"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name="protocheck-http", daemon=True).start()
        if not done.wait(self.deadline):
            raise NetworkError(f"the answer did not arrive within {self.deadline:g} s (overall deadline)",
                               path=shown, fix="check the server: it sends too slowly")
        if "exc" in box:
            raise box["exc"]
        return box["resp"]

    def _body(self, resp: Any, shown: str) -> bytes:
        """The answer's body, read in chunks: capped as sent and as decoded, within the overall deadline."""
        import requests

        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity") and encoding not in _DECODERS:
            raise NetworkError(f"the server answered with an unsupported Content-Encoding {encoding[:40]!r}",
                               path=shown, fix="configure the server to send gzip, deflate or no encoding")
        decoder = zlib.decompressobj(_DECODERS[encoding]) if encoding in _DECODERS else None
        out: list[bytes] = []      # parts, joined once at the end (no copy while growing)
        sent = size = 0
        end = time.monotonic() + self.deadline
        try:
            while True:
                chunk = resp.raw.read1(CHUNK, decode_content=False) if hasattr(resp.raw, "read1") \
                    else resp.raw.read(CHUNK, decode_content=False)
                if not chunk:
                    break
                sent += len(chunk)
                self._bounded(sent, end, shown)
                out.append(self._decode(decoder, chunk, size, shown) if decoder else chunk)
                size += len(out[-1])
                self._bounded(size, end, shown)
            if decoder is not None:
                out.append(decoder.flush())
                self._bounded(size + len(out[-1]), end, shown)
        except (requests.exceptions.RequestException, OSError, zlib.error) as exc:
            raise NetworkError(f"the answer could not be read ({type(exc).__name__})", path=shown,
                               fix="check the server; slow servers: raise --timeout") from None
        return b"".join(out)

    def _decode(self, decoder: Any, chunk: bytes, have: int, shown: str) -> bytes:
        """Inflate one chunk, a step at a time, never past the cap (a 16 KiB chunk may hold 16 MiB)."""
        parts = []
        while chunk:
            room = min(self.max_bytes - have + 1, STEP)
            data = decoder.decompress(chunk, room)
            have += len(data)
            if have > self.max_bytes:
                self._too_big(shown)
            parts.append(data)
            chunk = decoder.unconsumed_tail
        return b"".join(parts)

    def _bounded(self, size: int, end: float, shown: str) -> None:
        if size > self.max_bytes:
            self._too_big(shown)
        if time.monotonic() > end:
            raise NetworkError(f"the answer did not arrive within {self.deadline:g} s (overall deadline)",
                               path=shown, fix="check the server: it sends too slowly")

    def _too_big(self, shown: str) -> None:
        raise TooLarge(f"the answer is larger than {self.max_bytes // (1024 * 1024)} MiB (as sent or "
                           "once decompressed): not read", path=shown,
                           fix="ask for less (one study with --study) or check the server")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a DICOM JSON answer; 204 No Content is an empty list."""
        return self.parse_json(self.get_body(path, params), path)

    def get_body(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET a DICOM JSON answer's bytes, unparsed (204 No Content: b"[]")."""
        resp, body = self._request(self._url(path), params, "application/dicom+json, application/json")
        return b"[]" if resp.status_code == 204 or not body.strip() else body

    def parse_json(self, body: bytes, path: str) -> Any:
        """The JSON of an answer from ``get_body``; NetworkError naming the URL when it is malformed."""
        try:
            return jsonsafe.loads(body)
        except ValueError:
            raise NetworkError("the server answered with malformed JSON", path=safe_url(self._url(path)),
                               fix="check that the URL is the DICOMweb root (QIDO-RS/WADO-RS), "
                                   "not a web page or a proxy login") from None

    def get_bulk(self, uri: str) -> bytes:
        """GET one bulk data value (multipart/related or raw octet-stream) as bytes; only from the base
        URL's own scheme, host and port (ForeignURL otherwise)."""
        url = self.same_origin_url(uri)
        resp, body = self._request(url, None, 'multipart/related; type="application/octet-stream", '
                                              "application/octet-stream")
        ctype = resp.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/"):
            return first_multipart_part(body, ctype, safe_url(url))
        return body


def first_multipart_part(body: bytes, content_type: str, shown: str) -> bytes:
    """The payload of the first part of a multipart/related body."""
    raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    for part in msg.iter_parts():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload
    raise NetworkError("empty multipart answer for a bulk data value", path=shown,
                       fix="check the server's WADO-RS bulk data support")
