"""The ``defectdojo`` sink: a finished run's findings into DefectDojo (API v2).

At ``run.finished`` the sink reads the whole run from the run store (events carry only the worst
findings; the store has all of them), renders it — as secpipe's own SARIF report
(:mod:`secpipe.reports.sarif`, scan type ``SARIF``) or as DefectDojo's *Generic Findings Import*
JSON with only the keys that parser allows — and uploads it as ``multipart/form-data``:

* the first time, ``POST /api/v2/import-scan/`` with the product, engagement (one per pipeline,
  ``engagement_name`` template) and test title, ``auto_create_context`` creating what is missing;
  the test id DefectDojo answers is kept in ``.secpipe/defectdojo/<sink>.json``;
* later, ``POST /api/v2/reimport-scan/`` into that test with ``close_old_findings``, so findings
  that are gone get closed. Without the kept id (a fresh CI checkout) ``mode: reimport`` reimports
  by names (DefectDojo creates the test when none matches).

Only runs that ended ``passed`` or ``failed`` are uploaded: a run that errored or was interrupted
did not look everywhere, and a reimport with ``close_old_findings`` would close findings it never
looked for. Token auth (``Authorization: Token …``, a secret reference). Every string of the
report goes through the run's secret redaction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets as _random
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError
from secpipe.core.events import Event, RunFinished
from secpipe.core.findings import Finding
from secpipe.keys.refs import has_refs
from secpipe.sinks import _http
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

if TYPE_CHECKING:  # the run store is imported when a run ends
    from secpipe.runstore.records import RunRecord

SCAN_TYPES = ("SARIF", "Generic Findings Import")
SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low",
            "info": "Info"}

#: Keys DefectDojo's Generic Findings Import parser accepts on a finding; any other key makes it
#: refuse the whole file ("Not allowed fields are present"). Source: DefectDojo
#: ``dojo/tools/generic/json_parser.py`` (``required`` and ``allowed``), plus the keys it pops
#: before that check (``endpoints``, ``files``, ``tags``, ``vulnerability_ids``, ``cwes``).
GENERIC_REQUIRED = frozenset({"title", "severity", "description"})
GENERIC_ALLOWED = GENERIC_REQUIRED | frozenset({
    "date", "cwe", "cve", "epss_score", "epss_percentile", "cvssv3", "cvssv3_score", "cvssv4",
    "cvssv4_score", "mitigation", "impact", "steps_to_reproduce", "severity_justification",
    "references", "active", "verified", "false_p", "out_of_scope", "risk_accepted",
    "under_review", "is_mitigated", "thread_id", "mitigated", "numerical_severity", "param",
    "payload", "line", "file_path", "component_name", "component_version", "static_finding",
    "dynamic_finding", "scanner_confidence", "unique_id_from_tool", "vuln_id_from_tool",
    "sast_source_object", "sast_sink_object", "sast_source_line", "sast_source_file_path",
    "nb_occurences", "publish_date", "service", "planned_remediation_date",
    "planned_remediation_version", "effort_for_fixing", "tags", "kev_date", "known_exploited",
    "ransomware_used", "fix_available", "fix_version",
    "endpoints", "files", "vulnerability_ids", "cwes",
})
#: Keys of the report's top level that parser reads (the test's name, type and tool flags).
GENERIC_TOP = frozenset({"name", "type", "version", "description", "dynamic_tool",
                         "static_tool", "soc", "findings"})
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_NAME_FIELDS = ("pipeline", "project")
_CWE = re.compile(r"^CWE-(\d{1,5})$", re.IGNORECASE)


def _check_template(value: str) -> str:
    for name in _PLACEHOLDER.findall(value):
        if name not in _NAME_FIELDS:
            raise ValueError(f"{{{name}}} is not a placeholder ({', '.join(_NAME_FIELDS)})")
    if any(c in value for c in "\r\n\0"):
        raise ValueError("holds a line break or NUL")
    return value


class DefectDojoSettings(SinkSettings):
    """``with:`` of a ``defectdojo`` sink."""

    events: list[str] = Field(default_factory=lambda: ["run.finished"])
    """Must match ``run.finished`` (the sink uploads once per run, when it ends)."""
    url: str = Field(min_length=1)
    """DefectDojo's base URL (``https://dojo.example.com``), or a secret reference to it."""
    token: str = Field(min_length=1)
    """API v2 key (``Authorization: Token …``); write it as a secret reference."""
    product_name: str = Field(default="{project}", min_length=1)
    """Product (``{project}``, ``{pipeline}`` are filled in)."""
    product_type_name: str = Field(default="secpipe", min_length=1)
    """Product type used when ``auto_create_context`` creates the product."""
    engagement_name: str = Field(default="secpipe {pipeline}", min_length=1)
    """Engagement, one per pipeline by default."""
    test_title: str = Field(default="secpipe {pipeline}", min_length=1)
    """Title of the test the run's findings go to."""
    auto_create_context: bool = True
    """Let DefectDojo create the product type, product and engagement when missing."""
    scan_type: Literal["SARIF", "Generic Findings Import"] = "SARIF"
    """``SARIF`` (secpipe's SARIF report) or ``Generic Findings Import``."""
    mode: Literal["auto", "import", "reimport"] = "auto"
    """``auto``: import the first time, reimport into the kept test later; ``reimport``: always
    reimport (by the kept test id, else by names); ``import``: a new test every run."""
    close_old_findings: bool = True
    """On reimport, close findings of the test the run no longer reports."""
    minimum_severity: Literal["Info", "Low", "Medium", "High", "Critical"] = "Info"
    """DefectDojo drops findings below this."""
    active: bool = True
    """Mark imported findings active."""
    verified: bool = False
    """Mark imported findings verified."""
    environment: str | None = None
    """DefectDojo environment name (``Production``); unset: not sent."""
    include_evidence: bool = False
    """SARIF: keep each result's ``properties.evidence`` (the scanners' already-masked excerpt);
    off by default, so no excerpt of scanned content leaves for a third-party server."""
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=500 * 1024 * 1024)
    """Largest report uploaded (DefectDojo's own limit defaults to 100 MB)."""
    state_dir: str = ".secpipe"
    """The project's state folder (run store, kept test ids), relative to the project."""

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not has_refs(value):
            _http.origin(value)
        return value

    @field_validator("product_name", "product_type_name", "engagement_name", "test_title",
                     "environment")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)

    @model_validator(mode="after")
    def _needs_run_finished(self) -> DefectDojoSettings:
        if not any(fnmatchcase("run.finished", p) for p in self.events):
            raise ValueError("events must match run.finished (the sink uploads when a run ends)")
        return self


def generic_findings(run: RunRecord) -> dict[str, Any]:
    """The run as a Generic Findings Import document (only keys that parser allows)."""
    date = dt.datetime.fromtimestamp(run.started, tz=dt.UTC).strftime("%Y-%m-%d")
    accepted = run.accepted
    findings = [_generic_finding(f, date, accepted.get(f.fingerprint)) for f in run.findings]
    doc = {"name": "secpipe", "version": __version__, "static_tool": True,
           "description": f"secpipe run {run.run_id} of {run.pipeline}", "findings": findings}
    check_generic(doc)
    return doc


def _generic_finding(f: Finding, date: str, accepted: str | None) -> dict[str, Any]:
    description = [f.message or f.title, "", f"Location: {f.location.display()}",
                   f"Scanner: {f.scanner}", f"Rule: {f.rule_id}"]
    if accepted:
        description.append(f"Accepted by a secpipe gate: {accepted}")
    out: dict[str, Any] = {
        "title": _http.cut(f.title, 500),
        "severity": SEVERITY.get(f.severity.value, "Info"),
        "description": "\n".join(description),
        "date": date,
        "file_path": f.location.path,
        "unique_id_from_tool": f.fingerprint,
        "vuln_id_from_tool": f.rule_id,
        "static_finding": True,
        "dynamic_finding": False,
    }
    if f.location.line is not None:
        out["line"] = f.location.line
    if f.remediation:
        out["mitigation"] = f.remediation
    cwes = [int(m.group(1)) for t in f.tags if (m := _CWE.match(t))]
    if cwes:
        out["cwe"] = cwes[0]
    tags = sorted({t for t in f.tags if not _CWE.match(t)} | ({"accepted"} if accepted else set()))
    if tags:
        out["tags"] = tags
    return out


def check_generic(doc: dict[str, Any]) -> None:
    """Refuse (``ValueError``) a Generic Findings Import document with a key DefectDojo's parser
    would refuse, or without one it requires."""
    extra = sorted(set(doc) - GENERIC_TOP)
    if extra:
        raise ValueError(f"keys the Generic Findings Import does not allow: {extra}")
    for index, finding in enumerate(doc.get("findings", [])):
        missing = sorted(GENERIC_REQUIRED - set(finding))
        extra = sorted(set(finding) - GENERIC_ALLOWED)
        if missing or extra:
            raise ValueError(f"finding {index}: missing {missing}, not allowed {extra}")


def multipart(fields: list[tuple[str, str]], file_name: str, content: bytes,
              content_type: str) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (text fields, then the file); (body, Content-Type)."""
    boundary = "secpipe-" + _random.token_hex(16)
    out = bytearray()
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                ).encode() + value.encode() + b"\r\n"
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
    out += content + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


class DefectDojoSink(Sink[DefectDojoSettings]):
    """Imports, then reimports, each finished run's findings into one DefectDojo test."""

    kind = "defectdojo"
    summary = "import each finished run's findings into DefectDojo (import-scan, reimport-scan)"
    Settings = DefectDojoSettings

    def __init__(self, settings: DefectDojoSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        resolver = context.secrets
        url, self._where = _http.service_url(resolver, settings.url, "DefectDojo")
        self._api = url + "/api/v2"
        token = resolver.resolve(settings.token, "with.token").strip()
        if not token or any(c in token for c in "\r\n\0 "):
            raise ConfigError("with.token: resolved to an empty value or one with spaces")
        self._auth = f"Token {token}"
        self._state_dir = context.project_root / settings.state_dir
        self._state = self._state_dir / "defectdojo" / f"{context.name}.json"
        self.last_endpoint = ""
        """``import-scan`` or ``reimport-scan``: what the last upload used (tests, summary)."""

    # -- delivery ------------------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        if not isinstance(event, RunFinished):
            return
        if event.status not in ("passed", "failed"):
            raise SinkError(f"run {event.run_id} ended {event.status}: not imported (a partial "
                            "run would close findings it did not look for)", retry=False)
        run = self._read_run(event.run_id)
        names = {k: self._fill(getattr(self.settings, k), run)
                 for k in ("product_name", "product_type_name", "engagement_name", "test_title")}
        report, file_name = self._report(run)
        key = f"{names['product_name']}\n{names['engagement_name']}\n{names['test_title']}"
        state = self._load_state()
        test_id = state.get(key)
        mode = self.settings.mode
        if mode == "import" or (mode == "auto" and test_id is None):
            answer = self._upload("import-scan", self._import_fields(run, names), report,
                                  file_name)
        else:
            fields = self._reimport_fields(run, names, test_id)
            try:
                answer = self._upload("reimport-scan", fields, report, file_name)
            except _http.HttpError as exc:
                if test_id is None or exc.status not in (400, 404):
                    raise
                # the kept test is gone (deleted in DefectDojo): reimport by names instead
                state.pop(key, None)
                answer = self._upload("reimport-scan", self._reimport_fields(run, names, None),
                                      report, file_name)
        new_id = answer.get("test_id", answer.get("test")) if isinstance(answer, dict) else None
        if isinstance(new_id, int) and not isinstance(new_id, bool):
            state[key] = new_id
            self._save_state(state)

    def _fill(self, template: str, run: RunRecord) -> str:
        values = {"pipeline": run.pipeline, "project": Path(run.project).name or "project"}
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)

    def _read_run(self, run_id: str) -> RunRecord:
        return _http.read_run(self._state_dir, self.settings.state_dir, run_id, self.redact)

    def _report(self, run: RunRecord) -> tuple[bytes, str]:
        if self.settings.scan_type == "SARIF":
            from secpipe.reports.sarif import run_to_sarif

            doc: dict[str, Any] = run_to_sarif(run)
            if not self.settings.include_evidence:
                for sarif_run in doc.get("runs", []):
                    for result in sarif_run.get("results", []):
                        result.get("properties", {}).pop("evidence", None)
            name = "secpipe.sarif"
        else:
            doc = generic_findings(run)
            name = "secpipe-findings.json"
        doc = _http.redact_tree(doc, self.redact)
        if self.settings.scan_type != "SARIF":
            try:
                check_generic(doc)
            except ValueError as exc:  # cannot happen unless redaction renamed a key
                raise SinkError(f"report refused before sending: {exc}", retry=False) from None
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) > self.settings.max_bytes:
            raise SinkError(f"report of run {run.run_id} is {len(data)} bytes, over max_bytes "
                            f"({self.settings.max_bytes})", retry=False)
        return data, name

    def _common(self, run: RunRecord) -> list[tuple[str, str]]:
        scan_date = dt.datetime.fromtimestamp(run.started, tz=dt.UTC).strftime("%Y-%m-%d")
        fields = [("scan_type", self.settings.scan_type), ("scan_date", scan_date),
                  ("minimum_severity", self.settings.minimum_severity),
                  ("active", _bool(self.settings.active)),
                  ("verified", _bool(self.settings.verified)),
                  ("build_id", run.run_id)]
        commit = run.extra.get("git_commit") or run.extra.get("commit")
        if isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{7,64}", commit):
            fields.append(("commit_hash", commit))
        if self.settings.environment:
            fields.append(("environment", self.settings.environment))
        return fields

    def _names(self, names: dict[str, str]) -> list[tuple[str, str]]:
        return [("product_type_name", names["product_type_name"]),
                ("product_name", names["product_name"]),
                ("engagement_name", names["engagement_name"]),
                ("test_title", names["test_title"]),
                ("auto_create_context", _bool(self.settings.auto_create_context))]

    def _import_fields(self, run: RunRecord, names: dict[str, str]) -> list[tuple[str, str]]:
        return [*self._common(run), *self._names(names), ("close_old_findings", "false")]

    def _reimport_fields(self, run: RunRecord, names: dict[str, str],
                         test_id: int | None) -> list[tuple[str, str]]:
        fields = [*self._common(run),
                  ("close_old_findings", _bool(self.settings.close_old_findings))]
        if test_id is not None:
            return [*fields, ("test", str(test_id))]
        return [*fields, *self._names(names)]

    def _upload(self, endpoint: str, fields: list[tuple[str, str]], report: bytes,
                file_name: str) -> Any:
        self.last_endpoint = endpoint
        fields = [(k, self.redact(v)) for k, v in fields]
        body, content_type = multipart(fields, file_name, report, "application/json")
        _, data = _http.request(
            "POST", f"{self._api}/{endpoint}/", body=body,
            headers={"Authorization": self._auth, "Content-Type": content_type,
                     "Accept": "application/json"},
            timeout=self.settings.timeout, where=f"{endpoint} {self._where}")
        return _http.parse_json(data)

    # -- kept test ids -------------------------------------------------------------------------
    def _load_state(self) -> dict[str, int]:
        try:
            data = json.loads(self._state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, int)}

    def _save_state(self, state: dict[str, int]) -> None:
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._state.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(self._state)
        except OSError as exc:  # the upload itself succeeded: not a failed delivery to retry
            raise SinkError(f"imported, but cannot keep the test id in "
                            f"{self.settings.state_dir}: {exc.strerror or type(exc).__name__}",
                            retry=False) from None
