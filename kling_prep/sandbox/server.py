"""The sandbox server: the hosted API's endpoints and JSON on a local port, with credits per key,
jobs that advance with time, a real MP4 output, and injected faults.

Standard library only (`http.server.ThreadingHTTPServer`): one thread per connection is plenty
for tests and CI, and it adds no dependency.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kling_prep.errors import (
    ConfigError,
    InsufficientCreditsError,
    KlingPrepError,
    RequestRejectedError,
)
from kling_prep.limits import DEFAULT_PROFILE, ApiProfile, fetch_cap_bytes, get_profile
from kling_prep.sandbox import DEFAULT_CREDITS, DEFAULT_DELAY_S
from kling_prep.sandbox.faults import FaultPlan, FaultRule, Route
from kling_prep.sandbox.intake import (
    SubmissionFields,
    admit_image,
    admit_video,
    fetch_to_file,
    read_fields,
)
from kling_prep.sandbox.render import render_output

logger = logging.getLogger(__name__)

_FILES_PREFIX = "/files/"
# A job is `pending` for this share of the delay, then `processing` until it is done.
PENDING_FRACTION = 0.25


@dataclass
class SandboxJob:
    """One job in the sandbox's memory."""

    job_id: str
    api_key: str
    fields: SubmissionFields
    external_job_id: str
    created_at: datetime
    created_monotonic_s: float
    work_dir: Path
    fail_message: str | None = None
    is_stuck: bool = False
    rendered_at: datetime | None = None
    render_error: str | None = None
    is_rendered: threading.Event = field(default_factory=threading.Event)

    @property
    def output_path(self) -> Path:
        """Where the rendered output is written."""
        return self.work_dir / "output.mp4"


@dataclass
class SandboxStats:
    """Requests the sandbox answered, by route: what tests and benchmarks count."""

    posts: int = 0
    gets: int = 0
    file_gets: int = 0
    jobs_created: int = 0
    credits_charged: int = 0
    file_gets_with_auth: int = 0
    # POSTs whose client left during an injected latency: abandoned, nothing created or charged.
    posts_abandoned: int = 0


def read_keys_file(path: Path, default_credits: int) -> dict[str, int]:
    """Read a keys file: one key per line, optionally followed by its credits; `#` comments.

    Raises:
        ConfigError: the file cannot be read, has a bad credits value or holds no key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"keys file {path}: cannot be read ({exc.strerror})") from exc
    keys: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise ConfigError(f"keys file {path}, line {number}: expected `KEY [CREDITS]`")
        keys[parts[0]] = int(parts[1]) if len(parts) == 2 else default_credits
    if not keys:
        raise ConfigError(f"keys file {path} lists no key")
    return keys


def _iso(moment: datetime) -> str:
    """The API's time format: `2024-01-26T12:00:00.000Z`."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class SandboxServer:
    """A local emulator of the hosted API.

    Args:
        host: the interface to listen on (loopback by default).
        port: the port; 0 picks a free one (read it from `url`).
        delay_s: how long a job takes from submission to completed.
        credits: the starting balance of every key.
        keys: the only valid keys and their balances; None accepts any non-empty key.
        faults: the faults to inject (see `kling_prep.sandbox.faults`).
        profile: the documented limits to apply.
        work_dir: where fetched inputs and outputs go (default: a temporary folder, removed by
            `stop`).
        fetch_timeout_s: the time limit to fetch each input URL.
        max_renders: renders that may run at once.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_s: float = DEFAULT_DELAY_S,
        credits: int = DEFAULT_CREDITS,
        keys: dict[str, int] | None = None,
        faults: FaultPlan | None = None,
        profile: ApiProfile | None = None,
        work_dir: Path | None = None,
        fetch_timeout_s: float = 30.0,
        max_renders: int = 2,
    ) -> None:
        self.delay_s = delay_s
        self.default_credits = credits
        self.is_open_to_any_key = keys is None
        self.faults = faults or FaultPlan()
        self.profile = profile or get_profile()
        # The emulator speaks vydra's wire contract whatever limits it enforces: a profile with
        # no documented price is charged vydra's.
        self.credits_per_job: int = (
            self.profile.credits_per_job or get_profile(DEFAULT_PROFILE).credits_per_job or 0
        )
        self.fetch_timeout_s = fetch_timeout_s
        self.stats = SandboxStats()
        self._balances: dict[str, int] = dict(keys or {})
        self._jobs: dict[str, SandboxJob] = {}
        self._lock = threading.Lock()
        self._render_slots = threading.Semaphore(max_renders)
        self._stopping = threading.Event()
        self._owns_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="kling-sandbox-"))
        self._httpd = _SandboxHTTPServer((host, port), _Handler, self)
        self._thread: threading.Thread | None = None
        self._renders: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, delay_s={self.delay_s})"

    @property
    def url(self) -> str:
        """The base URL to give the client, e.g. `http://127.0.0.1:8765`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve in a daemon thread; returns at once, ready for requests."""
        # A short poll interval makes `stop` quick (tests start and stop many sandboxes).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="kling-sandbox", daemon=True
        )
        self._thread.start()
        logger.info("sandbox listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop` (or KeyboardInterrupt)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, release hanging requests, remove the temporary folder."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            renders = list(self._renders)
        for render in renders:
            render.join(timeout=30)
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------

    def set_faults(self, spec: str | None, *, seed: int = 0) -> None:
        """Replace the injected faults (the spec language of `kling_prep.sandbox.faults`)."""
        self.faults = FaultPlan.parse(spec, seed=seed)

    def balance(self, api_key: str) -> int:
        """A key's credits (a new key, where any key is accepted, has the starting balance)."""
        with self._lock:
            return self._balances.get(api_key, self.default_credits)

    def job_count(self) -> int:
        """How many jobs were accepted."""
        with self._lock:
            return len(self._jobs)

    def wait_rendered(self, timeout_s: float = 30.0) -> bool:
        """Wait until every accepted job's output is rendered (for tests)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            jobs = list(self._jobs.values())
        return all(job.is_rendered.wait(max(0.0, deadline - time.monotonic())) for job in jobs)

    def count(self, stat: str) -> None:
        """Add one to a counter of `stats`."""
        with self._lock:
            setattr(self.stats, stat, getattr(self.stats, stat) + 1)

    def is_known_key(self, api_key: str) -> bool:
        """Whether the key is accepted (where any key is, it gets the starting balance)."""
        with self._lock:
            if api_key in self._balances:
                return True
            if self.is_open_to_any_key:
                self._balances[api_key] = self.default_credits
                return True
        return False

    # -- the API ---------------------------------------------------------------------------

    def create_job(self, api_key: str, body: Any) -> SandboxJob:
        """Validate, fetch, check and charge a submission: the work behind `POST`.

        Returns:
            The accepted job.

        Raises:
            RequestRejectedError: 400/422 with the reason (nothing charged).
            InsufficientCreditsError: the key's balance is below the job's cost.
        """
        cost = self.credits_per_job
        # 1. The body's fields.
        fields = read_fields(body, self.profile)
        # 2. Credits, before the slow part.
        if self.balance(api_key) < cost:
            raise _not_enough_credits(self.balance(api_key), cost)
        # 3. Fetch and check the media, as the API does.
        job_id = str(uuid.uuid4())
        job_dir = self.work_dir / job_id
        job_dir.mkdir(parents=True)
        video_path = self._fetch_and_check(fields, job_dir)
        # 4. Charge and create, atomically.
        job = self._new_job(job_id, api_key, fields, job_dir)
        self._charge(job, cost)
        # 5. The "model": a watermarked re-encode, in the background.
        self._start_render(job, video_path)
        return job

    def _fetch_and_check(self, fields: SubmissionFields, job_dir: Path) -> Path:
        """Fetch both inputs into `job_dir` and check them; returns the video's path.

        Raises:
            RequestRejectedError: an input that cannot be fetched or breaks a limit (`job_dir`
                is removed).
        """
        image_path = job_dir / "image"
        video_path = job_dir / "video"
        try:
            fetch_to_file(
                fields.image_url,
                image_path,
                field="image_url",
                max_bytes=fetch_cap_bytes(self.profile.image_max_bytes, 1),
                timeout_s=self.fetch_timeout_s,
            )
            fetch_to_file(
                fields.video_url,
                video_path,
                field="video_url",
                max_bytes=fetch_cap_bytes(self.profile.video_max_bytes, 1),
                timeout_s=self.fetch_timeout_s,
            )
            admit_image(image_path, self.profile)
            admit_video(video_path, self.profile, fields.character_orientation)
        except RequestRejectedError:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        return video_path

    def _new_job(
        self, job_id: str, api_key: str, fields: SubmissionFields, job_dir: Path
    ) -> SandboxJob:
        """The job record, with the faults drawn for it (a failure to come, a stuck job)."""
        fired = self.faults.draw("job")
        fail = next((rule for rule in fired if rule.kind == "fail"), None)
        return SandboxJob(
            job_id=job_id,
            api_key=api_key,
            fields=fields,
            external_job_id="sandbox-" + uuid.uuid4().hex[:12],
            created_at=datetime.now(UTC),
            created_monotonic_s=time.monotonic(),
            work_dir=job_dir,
            fail_message=fail.message if fail else None,
            is_stuck=any(rule.kind == "stuck" for rule in fired),
        )

    def _charge(self, job: SandboxJob, cost: int) -> None:
        """Take the job's cost from its key and record the job, atomically.

        Raises:
            InsufficientCreditsError: the balance fell below the cost meanwhile.
        """
        with self._lock:
            balance = self._balances.get(job.api_key, self.default_credits)
            if balance < cost:
                raise _not_enough_credits(balance, cost)
            self._balances[job.api_key] = balance - cost
            self._jobs[job.job_id] = job
            self.stats.jobs_created += 1
            self.stats.credits_charged += cost

    def _start_render(self, job: SandboxJob, video_path: Path) -> None:
        render = threading.Thread(
            target=self._render,
            args=(job, video_path),
            name=f"render-{job.job_id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._renders.append(render)
        render.start()

    def _render(self, job: SandboxJob, video_path: Path) -> None:
        try:
            with self._render_slots:
                if job.fail_message is None and not self._stopping.is_set():
                    render_output(
                        video_path, job.output_path, keep_sound=job.fields.keep_original_sound
                    )
        except KlingPrepError as exc:
            job.render_error = str(exc)
            logger.warning("sandbox job %s: render failed: %s", job.job_id, exc)
        finally:
            job.rendered_at = datetime.now(UTC)
            job.is_rendered.set()

    def job_answer(self, api_key: str, job_id: str, base_url: str) -> dict[str, Any] | None:
        """The JSON of `GET /api/v1/jobs/{jobId}`, or None if the key has no such job."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.api_key != api_key:
            return None
        elapsed_s = time.monotonic() - job.created_monotonic_s
        answer: dict[str, Any] = {
            "id": job.job_id,
            "status": "pending",
            "output": None,
            "createdAt": _iso(job.created_at),
            "completedAt": None,
        }
        if elapsed_s < self.delay_s * PENDING_FRACTION:
            return answer
        if elapsed_s < self.delay_s or not job.is_rendered.is_set() or job.is_stuck:
            answer["status"] = "processing"
            return answer
        finished_at = max(
            job.created_at + timedelta(seconds=self.delay_s), job.rendered_at or job.created_at
        )
        answer["completedAt"] = _iso(finished_at)
        if job.fail_message is not None or job.render_error is not None:
            answer["status"] = "failed"
            answer["error"] = job.fail_message or f"rendering failed: {job.render_error}"
            return answer
        duration_s = _duration_s(job.output_path)
        answer["status"] = "completed"
        answer["output"] = {
            "videoUrl": f"{base_url}{_FILES_PREFIX}{job.job_id}/output.mp4",
            "durationSeconds": duration_s,
        }
        return answer

    def output_file(self, job_id: str) -> Path | None:
        """A completed job's output file (served without a key, like a CDN)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or not job.is_rendered.is_set() or not job.output_path.is_file():
            return None
        return job.output_path

    def hang(self, seconds: float) -> None:
        """Hold a request for `seconds`, or until the server stops."""
        self._stopping.wait(seconds)


_MALFORMED_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body>"
    b"</html>\n"
)


def _malformed(body: dict[str, Any], form: str) -> bytes:
    """The body of a `malformed` answer: cut JSON, an HTML page, or JSON of another shape."""
    if form == "html":
        return _MALFORMED_HTML
    if form == "shape":
        return json.dumps({"ok": True, "data": None}).encode()
    payload = json.dumps(body).encode()
    return payload[: len(payload) // 2]


def _duration_s(path: Path) -> float | None:
    from kling_prep.media.probe import probe_video

    try:
        return round(probe_video(path).duration_s, 2)
    except KlingPrepError:
        return None


def _not_enough_credits(balance: int, cost: int) -> InsufficientCreditsError:
    return InsufficientCreditsError(
        f"Insufficient credits: the job costs {cost}, the balance is {balance}", status_code=402
    )


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen backlog. The standard library's 5 drops the connections of a burst (Linux then
    # resends the SYN after 1, 3, 7 s): 200 clients submitting at once waited up to 10 s and
    # timed out on connecting, a queue no real API has.
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: SandboxServer
    ) -> None:
        super().__init__(address, handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a download abandoned) is logged, not printed as
        a traceback on stderr; anything else is the standard library's report."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("client %s went away: %s", client_address, error)
            return
        super().handle_error(request, client_address)


_JOB_PATH = re.compile(r"^/api/v1/jobs/(?P<job_id>[^/]+)$")
_FILE_PATH = re.compile(r"^/files/(?P<job_id>[^/]+)/output\.mp4$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle's algorithm and delayed ACKs
    # add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    server: _SandboxHTTPServer
    server_version = "kling-prep-sandbox/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        logger.debug("%s %s", self.address_string(), format % args)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def app(self) -> SandboxServer:
        return self.server.app

    def _base_url(self) -> str:
        host = self.headers.get("Host") or self.app.url.removeprefix("http://")
        return f"http://{host}"

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": HTTPStatus(status).phrase, "message": message}, headers)

    def _send_answer(self, status: int, body: dict[str, Any], fired: list[FaultRule]) -> None:
        """Send a success's JSON, spoiled as a fired `malformed` or `cut` rule says."""
        for rule in fired:
            if rule.kind == "malformed":
                self._send_bytes(status, "application/json", _malformed(body, rule.form))
                return
            if rule.kind == "cut":
                payload = json.dumps(body).encode()
                self._send_cut(status, "application/json", payload, rule.share)
                return
        self._send_json(status, body)

    def _send_bytes(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_cut(self, status: int, content_type: str, payload: bytes, share: float) -> None:
        """Announce the whole body, send `share` of it, and close the connection."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload[: int(len(payload) * share)])
            self.wfile.flush()
        self._drop()

    def _client_left(self) -> bool:
        """Whether the client closed its end (read: end of stream, nothing pending)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def _drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _api_key(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or not self.app.is_known_key(key):
            return None
        return key

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _apply_faults_before(self, route: Route) -> list[FaultRule] | None:
        """Fire the faults that act before the request is handled; None if one answered."""
        fired = self.app.faults.draw(route)
        for rule in fired:
            if rule.kind == "latency":
                self.app.hang(rule.seconds)
        for rule in fired:
            if rule.kind == "error":
                self._send_error(rule.status, "the sandbox was told to fail this request")
                return None
            if rule.kind == "ratelimit":
                self._send_error(
                    429, "Too many requests", {"Retry-After": f"{rule.retry_after_s:g}"}
                )
                return None
            if rule.kind == "drop" and route != "post":
                self._drop()
                return None
            if rule.kind == "hang" and route != "post":
                self.app.hang(rule.seconds)
        return fired

    # -- routes ----------------------------------------------------------------------------

    def do_POST(self) -> None:
        body_bytes = self._read_body()
        if self.path.split("?", 1)[0] != self.app.profile.submit_path:
            self._send_error(404, f"No route for POST {self.path}")
            return
        self.app.count("posts")
        fired = self._apply_faults_before("post")
        if fired is None:
            return
        if any(rule.kind == "latency" for rule in fired) and self._client_left():
            # Its client gave up during the wait (a timeout before the job was accepted): like a
            # server that notices the disconnect, nothing is created or charged.
            self.app.count("posts_abandoned")
            self.close_connection = True
            return
        api_key = self._api_key()
        if api_key is None:
            self._send_error(401, "Missing or invalid API key")
            return
        try:
            body = json.loads(body_bytes) if body_bytes else None
        except (ValueError, UnicodeDecodeError):
            self._send_error(400, "the body is not valid JSON")
            return
        try:
            job = self.app.create_job(api_key, body)
        except RequestRejectedError as exc:
            self._send_error(exc.status_code or 400, str(exc))
            return
        except InsufficientCreditsError as exc:
            self._send_error(402, str(exc))
            return
        # After the charge: the faults that leave the client not knowing it paid.
        for rule in fired:
            if rule.kind == "drop":
                self._drop()
                return
            if rule.kind == "hang":
                self.app.hang(rule.seconds)
        self._send_answer(
            202,
            {
                "jobId": job.job_id,
                "status": "pending",
                "message": "Motion control job created. Poll /api/v1/jobs/{jobId} for status.",
                "creditsCharged": self.app.credits_per_job,
                "externalJobId": job.external_job_id,
                "input": {
                    "image_url": job.fields.image_url,
                    "video_url": job.fields.video_url,
                    "character_orientation": job.fields.character_orientation,
                },
            },
            fired,
        )

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        file_match = _FILE_PATH.match(path)
        if file_match:
            self._serve_file(file_match["job_id"])
            return
        job_match = _JOB_PATH.match(path)
        if not job_match:
            self._send_error(404, f"No route for GET {path}")
            return
        self.app.count("gets")
        fired = self._apply_faults_before("get")
        if fired is None:
            return
        api_key = self._api_key()
        if api_key is None:
            self._send_error(401, "Missing or invalid API key")
            return
        answer = self.app.job_answer(api_key, job_match["job_id"], self._base_url())
        if answer is None:
            self._send_error(404, f"Job {job_match['job_id']} not found")
            return
        self._send_answer(200, answer, fired)

    def _serve_file(self, job_id: str) -> None:
        self.app.count("file_gets")
        if self.headers.get("Authorization"):
            self.app.count("file_gets_with_auth")
        fired = self._apply_faults_before("file")
        if fired is None:
            return
        path = self.app.output_file(job_id)
        if path is None:
            self._send_error(404, f"No output for job {job_id}")
            return
        cut = next((rule for rule in fired if rule.kind in ("cut", "malformed")), None)
        if cut is not None:
            # `cut`: the whole length announced, part of it sent, the connection closed.
            # `malformed`: a complete answer whose body is an HTML page, not the video.
            if cut.kind == "cut":
                self._send_cut(200, "video/mp4", path.read_bytes(), cut.share)
            else:
                self._send_bytes(200, "video/mp4", _MALFORMED_HTML)
            return
        size_bytes = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size_bytes))
        self.end_headers()
        with path.open("rb") as f:
            shutil.copyfileobj(f, self.wfile, 1 << 16)

    def do_PUT(self) -> None:
        self._read_body()
        self._send_error(405, f"Method PUT is not allowed on {self.path}")

    def do_DELETE(self) -> None:
        self._send_error(405, f"Method DELETE is not allowed on {self.path}")
