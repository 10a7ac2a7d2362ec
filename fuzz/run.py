"""Spec-driven fuzzing of the client-server API against a real server process.

Schemathesis generates requests from the Matrix spec's OpenAPI (assembled by
:mod:`fuzz.spec`), valid and invalid ones, for every operation; about half of them get
real ids (the fuzzer's room, user, event, ...) in the path so they reach past the
404s. The server runs as a real process on loopback with a temporary database. What
must hold: no 5xx, every JSON response is strict JSON (UTF-8, no NaN/Infinity, no
duplicate keys, no lone surrogates), no request hangs, and the server is alive at the
end. Findings come with the server's traceback, found by the request id the fuzzer
sends in ``X-Request-Id``.

    python -m fuzz.run --examples 10 --seconds 180 --report fuzz-report.json

See docs/development/fuzzing.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from fuzz.checks import strict_json_error
from fuzz.session import FuzzSession
from fuzz.spec import assemble, spec_dir
from tests.kit.server import OPEN_REGISTRATION, ServerProcess

REQUEST_TIMEOUT = (5.0, 15.0)
#: Long-poll endpoints wait up to their ``timeout`` query parameter; keep that short.
LONG_POLL_MS = 500
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d ")


@dataclass
class Finding:
    kind: str  # "5xx", "invalid-json", "timeout", "transport"
    operation: str
    status: int | None
    method: str
    url: str
    body: str
    detail: str
    request_id: str
    traceback: str = ""


@dataclass
class Tally:
    requests: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    operations: int = 0
    skipped_for_time: int = 0
    generation_errors: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def distinct_findings(self) -> list[Finding]:
        """One finding per operation, kind and status (the first one seen)."""
        seen: dict[tuple[str, str, int | None], Finding] = {}
        for finding in self.findings:
            seen.setdefault((finding.operation, finding.kind, finding.status), finding)
        return list(seen.values())


def _declares_json(operation: Any, status: int) -> bool:
    """Whether the spec says this operation answers ``status`` with JSON."""
    if status >= 400:
        return True  # errors are always Matrix JSON errors
    responses = operation.definition.raw.get("responses", {})
    declared = responses.get(str(status)) or responses.get("default") or {}
    content = declared.get("content")
    return content is None or any("json" in media for media in content)


def _bound_long_polls(case: Any) -> None:
    query = case.query if isinstance(case.query, dict) else None
    if query is None:
        return
    value = query.get("timeout")
    if isinstance(value, int) and not isinstance(value, bool) and value > LONG_POLL_MS:
        query["timeout"] = LONG_POLL_MS


class Fuzzer:
    def __init__(
        self,
        server: ServerProcess,
        session: FuzzSession,
        deadline: float,
        seed_value: int | None = None,
    ) -> None:
        self.server = server
        self.seed_value = seed_value
        self.session = session
        self.deadline = deadline
        self.tally = Tally()
        self.ids = itertools.count()
        self.http = requests.Session()

    def send(self, operation: Any, case: Any) -> None:
        _bound_long_polls(case)
        label = f"{operation.method.upper()} {operation.path}"
        request_id = f"fuzz{next(self.ids)}"
        self.tally.requests += 1
        headers = {"Authorization": f"Bearer {self.session.token}", "X-Request-Id": request_id}
        if isinstance(case.headers, dict):
            headers = {**case.headers, **headers}
        kwargs = case.as_transport_kwargs(base_url=self.server.base_url, headers=headers)
        kwargs["timeout"] = REQUEST_TIMEOUT
        kwargs["allow_redirects"] = False
        try:
            response = self.http.request(**kwargs)
        except requests.Timeout as exc:
            self._finding("timeout", label, None, kwargs, str(exc), request_id)
            self.tally.by_class["timeout"] += 1
            return
        except requests.RequestException as exc:
            self._finding("transport", label, None, kwargs, str(exc), request_id)
            self.tally.by_class["transport"] += 1
            return
        status = response.status_code
        self.tally.by_class[f"{status // 100}xx"] += 1
        self.tally.by_status[str(status)] += 1
        if status >= 500:
            self._finding("5xx", label, status, kwargs, response.text[:300], request_id)
        if _declares_json(operation, status) and not 300 <= status < 400:
            error = strict_json_error(response.content)
            if error is not None:
                detail = f"{error}; body: {response.content[:200]!r}"
                self._finding("invalid-json", label, status, kwargs, detail, request_id)

    def _finding(
        self,
        kind: str,
        label: str,
        status: int | None,
        kwargs: dict[str, Any],
        detail: str,
        request_id: str,
    ) -> None:
        body = kwargs.get("json", kwargs.get("data", ""))
        try:
            shown = json.dumps(body, ensure_ascii=True)
        except (TypeError, ValueError):
            shown = repr(body)
        url = kwargs["url"]
        params = kwargs.get("params")
        if params:
            url += f" params={params!r}"
        self.tally.findings.append(
            Finding(kind, label, status, kwargs["method"], url, shown[:500], detail, request_id)
        )

    def fuzz_operation(self, operation: Any, examples: int) -> None:
        values = self.session.path_values()
        names = [p.name for p in operation.path_parameters]
        real = {name: values[name] for name in names if name in values}
        modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
        strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
        if real:
            strategies += [
                operation.as_strategy(generation_mode=mode, path_parameters=real) for mode in modes
            ]

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(case=st.one_of(strategies))
        def run(case: Any) -> None:
            if time.monotonic() < self.deadline:
                self.send(operation, case)

        if self.seed_value is not None:
            run = seed(self.seed_value)(run)
        run()

    def run(self, schema: Any, examples: int, only: re.Pattern[str] | None) -> None:
        for result in schema.get_all_operations():
            operation = result.ok()
            label = f"{operation.method.upper()} {operation.path}"
            if only is not None and not only.search(label):
                continue
            if time.monotonic() >= self.deadline:
                self.tally.skipped_for_time += 1
                continue
            self.tally.operations += 1
            try:
                self.fuzz_operation(operation, examples)
            except Exception as exc:  # a schema schemathesis cannot generate from
                self.tally.generation_errors[label] = f"{type(exc).__name__}: {exc}"[:300]
            if self.server.process is None or self.server.process.poll() is not None:
                return
            self.session.ensure()


def attach_tracebacks(findings: list[Finding], log: str) -> None:
    lines = log.splitlines()
    for finding in findings:
        marker = f"request {finding.request_id} "
        for index, line in enumerate(lines):
            if marker in line:
                end = index + 1
                while end < len(lines) and not _LOG_LINE.match(lines[end]):
                    end += 1
                finding.traceback = "\n".join(lines[index:end])
                break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", 10)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 180)))
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default random)")
    parser.add_argument("--only", default=None, help="regex over 'METHOD /path' to fuzz")
    parser.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--keep", type=Path, default=None, help="server dir to keep (log, db)")
    args = parser.parse_args(argv)

    document = assemble()
    schema = schemathesis.openapi.from_dict(document)
    with tempfile.TemporaryDirectory(prefix="conduwuit-fuzz-") as tmp:
        workdir = args.keep or Path(tmp) / "hs"
        # Federation off: the fuzzer has no network, and an unreachable remote server
        # is rightly 502 (as in Synapse); with it off, remote look-ups are a clean 403.
        server = ServerProcess(
            workdir, env={**OPEN_REGISTRATION, "CONDUWUIT_ALLOW_FEDERATION": "false"}
        )
        server.start()
        started = time.monotonic()
        try:
            session = FuzzSession(server.base_url, server.server_name)
            session.start()
            fuzzer = Fuzzer(server, session, started + args.seconds, args.seed)
            only = re.compile(args.only) if args.only else None
            fuzzer.run(schema, args.examples, only)
            alive = server.process is not None and server.process.poll() is None
            if alive:
                status, _ = server.get_json("/_matrix/client/versions")
                alive = status == 200
        finally:
            log = server.log()
            server.stop()
    tally = fuzzer.tally
    distinct = tally.distinct_findings()
    attach_tracebacks(distinct, log)
    report = {
        "spec": str(spec_dir()),
        "examples_per_operation": args.examples,
        "seconds": round(time.monotonic() - started, 1),
        "operations": tally.operations,
        "operations_skipped_for_time": tally.skipped_for_time,
        "requests": tally.requests,
        "by_class": dict(sorted(tally.by_class.items())),
        "by_status": dict(sorted(tally.by_status.items())),
        "findings_total": len(tally.findings),
        "findings": [asdict(f) for f in distinct],
        "generation_errors": tally.generation_errors,
        "server_alive_at_end": alive,
    }
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    summary = {k: v for k, v in report.items() if k not in ("findings", "generation_errors")}
    print(json.dumps(summary, indent=2))
    for finding in distinct:
        print(f"\n[{finding.kind}] {finding.operation} -> {finding.status}: {finding.detail}")
        print(f"  {finding.method} {finding.url}\n  body: {finding.body[:200]}")
        if finding.traceback:
            print("  " + finding.traceback.replace("\n", "\n  ")[-1500:])
    if tally.generation_errors:
        print(f"\n{len(tally.generation_errors)} operations schemathesis could not generate for")
    return 0 if alive and not distinct else 1


if __name__ == "__main__":
    sys.exit(main())
