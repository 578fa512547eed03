"""The ``scan-host`` step kind: OpenSCAP's compliance rules and Lynis's audit on the host or a
container's root filesystem.

Example::

    - uses: scan-host
      with:
        profile: standard            # the SCAP Security Guide profile
        lynis_suggestions: false

What it does, per target (:mod:`.target`: the host, a root folder, a podman container mounted
for the time of the scan, an image unpacked into the step's folder by :mod:`.rootfs`; default the
deployment's container, or the host for a process deployment; without targets and deployment
the step is SKIPPED, and so is an unconfigured step whose tools are not installed):

1. the newest installed ssg-debian datastream (or ``datastream:``) is copied under the cache
   folder with its platform check patched to accept Debian 12 (:mod:`.datastream`; a container
   or folder gets the container variant, so machine-only rules read not applicable);
2. ``oscap xccdf eval --profile P [--rule R …]`` evaluates it (:mod:`.oscap`; another root
   offline through ``OSCAP_PROBE_ROOT``);
3. each failed rule is a finding ``host.<rule>`` with the rule's XCCDF severity and its CIS and
   NIST 800-53 references as tags (:mod:`.controls`); rules that ended ``error`` or ``unknown``
   are counted into one ``host.scan-incomplete`` (HIGH), never passed;
   on a container, image or root folder, openscap's ``dpkginfo`` probe cannot read the root's
   dpkg database, so the package installed/removed rules are decided by secpipe's own dpkg
   reader (:mod:`.dpkgrules`: the rule's OVAL ``dpkginfo`` check against the root's
   ``/var/lib/dpkg/status`` and ``status.d``; the finding's property ``decided_by`` says so);
   a package rule it cannot decide (no or unreadable database, a check other than one package
   installed/removed) stays undecided;
4. on the host, Lynis (:mod:`.lynis`, ``lynis: true`` by default there): warnings are
   ``host.lynis.<test>`` (MEDIUM), suggestions LOW with ``lynis_suggestions: true``, the
   hardening index the metric ``lynis_hardening_index``.

Metrics: ``rules_pass``, ``rules_fail``, ``rules_notapplicable``, ``rules_undecided``,
``rules_dpkg_decided`` (package rules among pass/fail that secpipe decided),
``lynis_hardening_index``. A missing ``oscap`` or datastream is an ERROR naming the Debian
packages; an oscap or Lynis run that fails or times out is ``host.scan-incomplete``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import NOT_ON_CLI, ScannerSettings, metavar
from secpipe.scanners.host import lynis as ly
from secpipe.scanners.host.controls import control_tags, severity_of
from secpipe.scanners.host.datastream import default_datastream, patched_datastream
from secpipe.scanners.host.dpkgrules import (
    DECIDED_BY,
    PackageCheck,
    package_checks,
    read_inventory,
)
from secpipe.scanners.host.oscap import (
    MAX_RESULTS_BYTES,
    UNDECIDED,
    RuleResult,
    full_profile_id,
    oscap_argv,
    probe_failures,
    read_results,
)
from secpipe.scanners.host.target import HostTarget, default_target, mounted, parse_target
from secpipe.tools.capture import KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import (
    ToolCall,
    ToolStartError,
    find_program,
    run_for_step,
    step_timeout,
)

SCANNER = "scan-host"
TOOL = "openscap"
PACKAGES_HINT = "apt-get install openscap-scanner ssg-debian"
MAX_NAMED = 10
NO_TARGET = ("nothing found: no deployment in this run and no targets given (targets: [host] "
             "evaluates this machine)")
KNOWN_PROBES = ("dpkginfo",)
"""Probes whose failure is handled by turning the rules they decide into undecided ones."""


class HostScanSettings(ScannerSettings):
    """``with:`` settings of ``scan-host``."""

    paths: list[str] = Field(default_factory=list, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner (it evaluates systems: see targets)."""
    targets: list[str] = Field(default_factory=list, json_schema_extra=metavar("TARGET"))
    """What to evaluate: host (or /), rootfs:PATH (or a folder), container:ID (podman),
    image:PATH (OCI layout or archive); default: the run's deployment (its container, or the
    host for a process)."""
    profile: str = "standard"
    """The SCAP Security Guide profile (short name or full XCCDF id)."""
    datastream: str | None = Field(default=None, json_schema_extra=metavar("FILE"))
    """The SCAP source datastream (default: the newest installed ssg-debianN-ds.xml)."""
    patch_platform: bool = True
    """Evaluate a copy whose Debian version check also accepts Debian 12 (without it every
    rule reads not applicable there)."""
    rules: list[str] = Field(default_factory=list, json_schema_extra=metavar("RULE"))
    """Evaluate only these rules of the profile (short or full ids)."""
    lynis: bool | None = None
    """Run Lynis too (host targets only; default: on for the host, off otherwise)."""
    lynis_suggestions: bool = False
    """Report Lynis suggestions as LOW findings (warnings are always MEDIUM findings)."""
    lynis_tests: list[str] = Field(default_factory=list, json_schema_extra=metavar("TEST"))
    """Run only these Lynis tests (e.g. AUTH-9262); default all."""
    oscap_program: str = "oscap"
    """The oscap executable."""
    lynis_program: str = "lynis"
    """The lynis executable."""
    podman_program: str = "podman"
    """The podman executable (to mount a container's root filesystem)."""
    podman_root: str | None = Field(default=None, json_schema_extra=metavar("DIR"))
    """podman's --root for container targets (default: the deployment's)."""
    podman_runroot: str | None = Field(default=None, json_schema_extra=metavar("DIR"))
    """podman's --runroot for container targets (default: the deployment's)."""
    max_seconds: float | None = Field(default=None, gt=0, json_schema_extra=metavar("SECONDS"))
    """Seconds one oscap or Lynis run may take (default: the step's timeout)."""
    max_results_bytes: int = Field(default=MAX_RESULTS_BYTES, gt=0,
                                   json_schema_extra=metavar("N"))
    """Largest OpenSCAP results file read."""


def _location(target: HostTarget, member: str) -> Location:
    return Location(path=target.label, member=member)


def incomplete(target: HostTarget, message: str, key: str) -> Finding:
    """``host.scan-incomplete`` on ``target``."""
    return Finding.create(
        rule_id="host.scan-incomplete", title="Host scan incomplete", severity=Severity.HIGH,
        scanner=SCANNER, location=_location(target, key), message=message, key=key,
        remediation="look at the tool's log in the step folder; an undecided rule is never "
                    "a pass")


def rule_finding(target: HostTarget, result: RuleResult, profile: str,
                 decided: PackageCheck | None = None) -> Finding:
    """The finding of a failed rule (``decided``: the package check secpipe decided it by)."""
    info = result.info
    extra = {} if decided is None else {
        "decided_by": DECIDED_BY, "package": decided.package,
        "expected": "installed" if decided.installed else "not installed",
        "check_from": decided.source}
    title = info.title if info and info.title else result.short_id
    severity = result.severity if result.severity != "unknown" or info is None else info.severity
    return Finding.create(
        rule_id=f"host.{result.short_id}", title=title[:200], severity=severity_of(severity),
        scanner=SCANNER, location=_location(target, result.short_id),
        message=f"{title[:200]}: failed on {target.label} (profile {profile})",
        key=result.short_id, tags=control_tags(info.references if info else ()),
        properties={"rule": result.rule_id, "result": result.result, "target": target.label,
                    "xccdf_severity": severity, "profile": full_profile_id(profile), **extra},
        remediation="see the SCAP Security Guide's text of this rule (oscap info, or the "
                    "guide HTML in ssg-debian)")


def _missing_tools(s: HostScanSettings, targets: list[HostTarget]) -> str:
    """The tools (or data) this scan needs that are not installed, '' when all are."""
    env = tool_env()
    missing = [name for name, program in (("oscap", s.oscap_program),)
               if find_program(program, Path.cwd(), env) is None]
    if s.datastream is None and default_datastream() is None:
        missing.append("ssg-debian")
    wants_lynis = s.lynis if s.lynis is not None else any(t.is_host for t in targets)
    if wants_lynis and find_program(s.lynis_program, Path.cwd(), env) is None:
        missing.append("lynis")
    return ", ".join(missing)


class HostScanStep(StepKind[HostScanSettings]):
    """Evaluate the host (or a container's root filesystem) with OpenSCAP and Lynis."""

    kind = "scan-host"
    summary = ("OpenSCAP (SCAP Security Guide, Debian 12 patched) and Lynis on the host or the "
               "deployment's container: failed rules with CIS / NIST 800-53 ids")
    Settings = HostScanSettings
    produces_metrics: ClassVar[tuple[str, ...]] = (
        "rules_pass", "rules_fail", "rules_notapplicable", "rules_undecided",
        "rules_dpkg_decided", "lynis_hardening_index")

    def run(self, ctx: StepContext, settings: HostScanSettings) -> StepResult:
        return _Scan(ctx, settings).run()


class _Scan:
    def __init__(self, ctx: StepContext, settings: HostScanSettings) -> None:
        self.ctx, self.s = ctx, settings
        self.workdir = Path(ctx.workdir)
        self.timeout = step_timeout(ctx.timeout, settings.max_seconds)
        self.findings: list[Finding] = []
        self.counts: Counter[str] = Counter()
        self.metrics: dict[str, float] = {}
        self.artifacts: list[Artifact] = []
        self.lines: list[str] = []
        self.env = tool_env(secrets=ctx.secrets, what=f"step {ctx.step_id or SCANNER}")
        self.checks: dict[Path, dict[str, PackageCheck] | str] = {}

    def run(self) -> StepResult:
        s, ctx = self.s, self.ctx
        root = Path(ctx.project_root)
        targets = [parse_target(t, root, s.podman_root, s.podman_runroot) for t in s.targets]
        if not targets:
            found = default_target(ctx, s.podman_root, s.podman_runroot)
            if found is None:
                return StepResult(status=StepStatus.SKIPPED, message=NO_TARGET, tool=TOOL)
            targets = [found]
        unset = not s.model_fields_set  # the built-in pipeline's step, nothing configured
        missing = _missing_tools(s, targets)
        if missing and unset:
            return StepResult(status=StepStatus.SKIPPED, tool=TOOL, message=(
                f"not configured: {missing} not installed ({PACKAGES_HINT} lynis)"))
        if s.lynis and not all(t.is_host for t in targets):
            raise ConfigError("scan-host: lynis: true needs the host target (Lynis audits the "
                              "running system, not a root folder)")
        source = Path(s.datastream) if s.datastream else default_datastream()
        if source is None or not source.is_file():
            return self._error(f"no SCAP datastream found ({PACKAGES_HINT}, or set datastream:)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cache = Path(ctx.cache_dir) / "oscap" if ctx.cache_dir else self.workdir / "datastream"
        version = ""
        for index, target in enumerate(targets):
            ctx.progress(index, len(targets), f"oscap {target.label}")
            datastream = patched_datastream(source, cache, container=target.container) \
                if s.patch_platform else source
            with mounted(ctx, target, s.podman_program, self.timeout) as ready:
                self._oscap(ready, datastream, index)
            run_lynis = s.lynis if s.lynis is not None else target.is_host
            if run_lynis and target.is_host:
                ctx.progress(index, len(targets), "lynis audit system")
                version = self._lynis(target, index) or version
        ctx.progress(len(targets), len(targets), "done")
        for name in ("pass", "fail", "notapplicable"):
            self.metrics[f"rules_{name}"] = float(self.counts[name])
        self.metrics["rules_undecided"] = float(self.counts["undecided"])
        self.metrics["rules_dpkg_decided"] = float(self.counts["dpkg"])
        tool = f"{TOOL} + lynis {version}".strip() if version else TOOL
        return StepResult(findings=tuple(self.findings), metrics=self.metrics,
                          artifacts=tuple(self.artifacts), tool=tool,
                          message=ctx.redact("; ".join(self.lines))[:800])

    def _error(self, message: str) -> StepResult:
        return StepResult(status=StepStatus.ERROR, message=self.ctx.redact(message), tool=TOOL)

    def _oscap(self, target: HostTarget, datastream: Path, index: int) -> None:
        s, ctx = self.s, self.ctx
        assert target.root is not None
        results = self.workdir / f"oscap-results-{index}.xml"
        results.unlink(missing_ok=True)
        declared = {}
        if not target.is_host:
            declared = {"OSCAP_PROBE_ROOT": str(target.root),
                        "OSCAP_EVALUATION_TARGET": f"chroot://{target.root}"}
        env = {**self.env, **declared}
        errors = self.workdir / f"oscap-{index}.errors"
        errors.unlink(missing_ok=True)
        call = ToolCall(argv=oscap_argv(s.oscap_program, datastream, s.profile, results, s.rules,
                                        errors),
                        cwd=self.workdir, env=env,
                        stdout=KeepTail(self.workdir / f"oscap-{index}.log", limit=1 << 20),
                        stderr=KeepTail(self.workdir / f"oscap-{index}.err", limit=256 << 10),
                        timeout=self.timeout)
        started = time.monotonic()
        try:
            outcome = run_for_step(call, cancel=ctx.cancel, secrets=ctx.secrets)
        except ToolStartError as exc:
            raise StepError(f"{exc.message} ({PACKAGES_HINT})") from None
        stopped = outcome.stop_reason(self.timeout)
        if stopped or outcome.exit_code not in (0, 2):
            why = stopped or f"exit code {outcome.exit_code}: {outcome.stderr.summary}"
            self.findings.append(incomplete(target, f"oscap on {target.label} did not complete "
                                            f"({why[:300]})", "oscap"))
            self.lines.append(f"{target.label}: oscap did not complete")
            return
        try:
            outcomes = read_results(results, s.max_results_bytes)
        except InputError as exc:
            results.unlink(missing_ok=True)
            self.findings.append(incomplete(target, exc.message, "oscap"))
            self.lines.append(f"{target.label}: oscap results unreadable")
            return
        if not outcomes:
            self.findings.append(incomplete(target, f"oscap evaluated no rule on {target.label} "
                                            f"(profile {s.profile}, rules {s.rules or 'all'})",
                                            "oscap"))
        self.artifacts.append(Artifact.from_file(f"oscap-results-{index}.xml", results,
                                                 "application/xml"))
        failed = probe_failures(errors)
        other = [p for p in failed if p not in KNOWN_PROBES]
        if other:
            self.findings.append(incomplete(
                target, f"OpenSCAP probe(s) failed on {target.label}: {', '.join(other[:5])} "
                        "(rules that use them may be misjudged)", "oscap-probes"))
        self._judge(target, outcomes, time.monotonic() - started, failed, datastream)

    def _package_checks(self, datastream: Path) -> dict[str, PackageCheck] | str:
        """The datastream's decidable package rules (read once), or why there are none."""
        if datastream not in self.checks:
            try:
                self.checks[datastream] = package_checks(datastream)
            except InputError as exc:
                self.checks[datastream] = f"the datastream's package checks: {exc.message}"
        return self.checks[datastream]

    def _dpkg_decider(self, target: HostTarget, datastream: Path
                      ) -> tuple[dict[str, PackageCheck], frozenset[str], str]:
        """The package checks and installed packages to decide package rules by, or why
        they cannot be (then the rules stay undecided)."""
        if target.is_host or target.root is None:
            return {}, frozenset(), ""
        checks = self._package_checks(datastream)
        if isinstance(checks, str):
            return {}, frozenset(), checks
        inventory = read_inventory(target.root)
        if inventory.installed is None:
            return {}, frozenset(), f"package rules: {inventory.why}"
        return checks, inventory.installed, ""

    def _judge(self, target: HostTarget, outcomes: list[RuleResult], seconds: float,
               failed_probes: list[str], datastream: Path) -> None:
        blind: dict[str, str] = {}
        checks: dict[str, PackageCheck] = {}
        installed: frozenset[str] = frozenset()
        if "dpkginfo" in failed_probes:
            blind["package_"] = "package rules: the dpkg probe failed (openscap 1.3 cannot " \
                                "read a dpkg database under another root)"
        elif not target.is_host and not (
                target.root is not None and (target.root / "var/lib/dpkg/status").is_file()):
            blind["package_"] = "package rules: openscap reads no dpkg status file in the root"
        if "package_" in blind:
            checks, installed, why_not = self._dpkg_decider(target, datastream)
            if why_not:
                blind["package_"] += f"; {why_not}"
        if not target.owners_exact:
            why = "owner rules: the image was unpacked without root, so owners are not its own"
            blind["file_owner_"] = blind["file_groupowner_"] = why
        undecided: list[str] = []
        local: Counter[str] = Counter()
        for item in outcomes:
            result = item.result
            check = checks.get(item.rule_id) if item.short_id.startswith("package_") else None
            if check is not None and "package_" in blind and result != "notapplicable":
                result = check.judge(installed)
                local[result] += 1
                local["dpkg"] += 1
                if result == "fail":
                    self.findings.append(rule_finding(target, item, self.s.profile, check))
                continue
            if result in UNDECIDED or (result in ("pass", "fail") and any(
                    item.short_id.startswith(prefix) for prefix in blind)):
                undecided.append(item.short_id)
                local["undecided"] += 1
                continue
            local[result] += 1
            if result == "fail":
                self.findings.append(rule_finding(target, item, self.s.profile))
        if undecided:
            reasons = sorted({blind[p] for p in blind
                              if any(rule.startswith(p) for rule in undecided)})
            why = f" ({'; '.join(reasons)})" if reasons else ""
            shown = ", ".join(undecided[:MAX_NAMED]) + (" …" if len(undecided) > MAX_NAMED
                                                        else "")
            self.findings.append(incomplete(
                target, f"{len(undecided)} rule(s) could not be decided on {target.label}"
                        f"{why}: {shown}", "oscap-undecided"))
        self.counts.update(local)
        self.lines.append(f"{target.label}: {local['pass']} pass, {local['fail']} fail, "
                          f"{local['notapplicable']} not applicable, {local['undecided']} "
                          f"undecided" + (f", {local['dpkg']} package rule(s) decided by "
                                          f"{DECIDED_BY}" if local["dpkg"] else "")
                          + f" ({seconds:.1f} s)")

    def _lynis(self, target: HostTarget, index: int) -> str:
        s, ctx = self.s, self.ctx
        report = self.workdir / f"lynis-{index}.dat"
        report.unlink(missing_ok=True)
        home = self.workdir / "lynis-home"
        home.mkdir(exist_ok=True)
        call = ToolCall(argv=ly.lynis_argv(s.lynis_program, report,
                                           self.workdir / f"lynis-{index}.log", s.lynis_tests),
                        cwd=self.workdir, env={**self.env, "HOME": str(home)},
                        stdout=KeepTail(self.workdir / f"lynis-{index}.out", limit=1 << 20),
                        stderr=KeepTail(self.workdir / f"lynis-{index}.err", limit=256 << 10),
                        timeout=self.timeout)
        try:
            outcome = run_for_step(call, cancel=ctx.cancel, secrets=ctx.secrets)
        except ToolStartError as exc:
            raise StepError(f"{exc.message} (apt-get install lynis, or lynis: false)") from None
        stopped = outcome.stop_reason(self.timeout)
        if stopped or outcome.exit_code != 0:
            why = stopped or f"exit code {outcome.exit_code}: {outcome.stdout.summary}"
            self.findings.append(incomplete(target, f"Lynis did not complete ({why[:300]})",
                                            "lynis"))
            return ""
        try:
            parsed = ly.read_report(report)
        except InputError as exc:
            self.findings.append(incomplete(target, exc.message, "lynis"))
            return ""
        for item in parsed.warnings:
            self.findings.append(self._lynis_finding(target, item, Severity.MEDIUM, "warning"))
        if s.lynis_suggestions:
            for item in parsed.suggestions:
                self.findings.append(self._lynis_finding(target, item, Severity.LOW,
                                                         "suggestion"))
        self.metrics["lynis_hardening_index"] = float(parsed.hardening_index)
        self.lines.append(f"lynis: hardening index {parsed.hardening_index}, "
                          f"{len(parsed.warnings)} warning(s), "
                          f"{len(parsed.suggestions)} suggestion(s)")
        return parsed.version

    def _lynis_finding(self, target: HostTarget, item: ly.LynisItem, severity: Severity,
                       kind: str) -> Finding:
        text = self.ctx.redact(item.text)
        detail = self.ctx.redact(item.details)
        return Finding.create(
            rule_id=f"host.lynis.{item.test.lower()}", title=f"Lynis {kind}: {text[:120]}",
            severity=severity, scanner=SCANNER,
            location=_location(target, f"lynis/{item.test}"),
            message=f"Lynis {kind} {item.test}: {text}" + (f" ({detail})" if detail else ""),
            key=f"{item.test}|{text}|{detail}", evidence=detail,
            properties={"test": item.test, "source": "lynis", "kind": kind},
            remediation=self.ctx.redact(item.solution) or f"see https://cisofy.com/lynis/"
                                                          f"controls/{item.test}/")
