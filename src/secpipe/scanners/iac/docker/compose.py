"""Compose files (the Compose Specification, and the v2/v3 and legacy v1 layouts): the
``iac.compose.*`` checks.

Files are read with the one bounded YAML loader (:func:`secpipe.core.safeload.parse_yaml`:
safe constructors, duplicate keys refused, depth and alias-expansion bounds); anything it refuses
is an ``iac.parse-error`` problem naming the line. Anchors, aliases and ``<<`` merges (the usual
``x-common: &common`` blocks) arrive already expanded. ``extends`` and ``profiles`` are not
followed. A ``build.dockerfile_inline`` Dockerfile is checked by the Dockerfile rules, its hits
placed on the Compose file's lines. ``${VAR:-default}`` interpolation is applied where a
default is written; a value that still needs a variable is not judged (the variable's value
lives outside the file), except that a literal *default* for a secret-named variable is itself
a literal secret.

Short and long syntaxes are both read: ``volumes`` (``/var/run/docker.sock:/run/d.sock:ro``,
``{type: bind, source: …}``, and named volumes whose ``driver_opts`` bind a host path),
``ports`` (``"5432:5432"``, ``"127.0.0.1:5432:5432"``, ``"[::1]:5432:5432"``, ranges, ``/udp``,
and ``{target, published, host_ip}``), ``environment`` (map and ``KEY=value`` list). An unquoted
``- 22:22`` is read by YAML 1.1 as the base-60 number 1342; the original text is looked up so it
is judged as the port mapping it was meant to be.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Hashable, Iterator
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Confidence, Severity
from secpipe.core.safeload import MAX_YAML_BYTES, YamlDocument, parse_yaml
from secpipe.scanners.iac.docker import dockerfile
from secpipe.scanners.iac.docker.common import (
    decode,
    known_key_shape,
    line_of_error,
    literal_value,
    read_file,
    redact,
    scrub,
    secret_name,
    url_password,
    weak_value,
)
from secpipe.scanners.iac.docker.images import parse_image
from secpipe.scanners.iac.model import (
    Analysis,
    Budget,
    IacFile,
    IacHit,
    IacResource,
    Problem,
    Unresolved,
)

MAX_COMPOSE_BYTES = MAX_YAML_BYTES
"""Largest Compose file read (the YAML reader is pure Python: a few seconds per MiB)."""

_SOCKETS = frozenset({"docker.sock", "containerd.sock", "podman.sock", "crio.sock",
                      "dockershim.sock", "cri-dockerd.sock", "buildkitd.sock"})
_SOCKET_DIRS = frozenset({"/var/run", "/run", "/var/run/docker", "/run/docker",
                          "/run/containerd", "/var/run/containerd", "/run/podman"})
_SENSITIVE_DIRS = frozenset({"/", "/etc", "/proc", "/sys", "/boot", "/dev", "/root", "/usr",
                             "/lib", "/lib64", "/bin", "/sbin", "/var", "/var/lib",
                             "/var/lib/docker", "/var/lib/kubelet", "/home", "/var/log"})
_SENSITIVE_TREES = ("/etc/", "/root/", "/proc/", "/sys/", "/boot/", "/var/lib/docker/",
                    "/var/lib/kubelet/", "/usr/", "/bin/", "/sbin/", "/lib/")
_HARMLESS = frozenset({"/etc/localtime", "/etc/timezone", "/etc/hostname", "/etc/machine-id",
                       "/usr/share/zoneinfo"})
_MODES = re.compile(r"^(ro|rw|z|Z|cached|delegated|consistent|nocopy|shared|slave|private|"
                    r"rshared|rslave|rprivate|volume-nocopy)(,(ro|rw|z|Z|cached|delegated|"
                    r"consistent|nocopy|shared|slave|private|rshared|rslave|rprivate))*$")

_DANGEROUS_CAPS = {"ALL": Severity.HIGH, "SYS_ADMIN": Severity.HIGH,
                   "SYS_MODULE": Severity.HIGH, "SYS_PTRACE": Severity.MEDIUM,
                   "NET_ADMIN": Severity.MEDIUM, "SYS_RAWIO": Severity.MEDIUM,
                   "DAC_READ_SEARCH": Severity.MEDIUM, "DAC_OVERRIDE": Severity.MEDIUM,
                   "BPF": Severity.MEDIUM, "SYS_BOOT": Severity.MEDIUM,
                   "MAC_ADMIN": Severity.MEDIUM, "MAC_OVERRIDE": Severity.MEDIUM,
                   "SYS_TIME": Severity.MEDIUM, "PERFMON": Severity.MEDIUM}
_NAMESPACES = {"pid": Severity.HIGH, "ipc": Severity.MEDIUM, "uts": Severity.LOW,
               "userns_mode": Severity.MEDIUM, "cgroup": Severity.MEDIUM}
_SECURITY_OFF = re.compile(r"(?i)^(seccomp[:=]unconfined|apparmor[:=]unconfined|"
                           r"label[:=]disable|label[:=]type:spc_t|systempaths[:=]unconfined)$")

SENSITIVE_PORTS: dict[int, str] = {
    22: "SSH", 23: "telnet", 2375: "Docker API (no TLS)", 2376: "Docker API",
    2379: "etcd", 2380: "etcd peer", 3306: "MySQL", 33060: "MySQL X", 5432: "PostgreSQL",
    1433: "SQL Server", 1521: "Oracle", 6379: "Redis", 6380: "Redis", 11211: "memcached",
    27017: "MongoDB", 27018: "MongoDB", 9200: "Elasticsearch", 9300: "Elasticsearch transport",
    5984: "CouchDB", 8086: "InfluxDB", 9042: "Cassandra", 7474: "Neo4j browser",
    7687: "Neo4j bolt", 5672: "RabbitMQ", 15672: "RabbitMQ management", 9092: "Kafka",
    2181: "ZooKeeper", 8500: "Consul", 4369: "Erlang epmd", 5601: "Kibana",
    9000: "admin console (MinIO/Portainer) or php-fpm", 9443: "Portainer", 3389: "RDP",
    5900: "VNC", 6443: "Kubernetes API", 10250: "kubelet", 8983: "Solr",
    50070: "HDFS NameNode", 28015: "RethinkDB", 26257: "CockroachDB", 6000: "X11"}
"""Container ports of databases, brokers and admin interfaces that should not be published to
every interface (web ports 80/443/8080 are meant to be)."""
_ALL_INTERFACES = frozenset({"", "0.0.0.0", "::", "[::]", "*"})  # noqa: S104 - compared, not bound
_INTERP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_]"
                     r"[A-Za-z0-9_]*)")


def _interpolate(value: str) -> tuple[str, bool]:
    """``value`` with ``${X:-default}`` replaced by its default; False when a variable without a
    default remains (``$$`` is a literal ``$``)."""
    complete = True

    def repl(match: re.Match[str]) -> str:
        nonlocal complete
        op, default = match.group(2), match.group(3)
        if op in (":-", "-"):
            return default or ""
        complete = False
        return match.group(0)

    out = _INTERP.sub(repl, value.replace("$$", "\x00"))
    return out.replace("\x00", "$"), complete


def _defaults(value: str) -> list[str]:
    """The literal defaults written in ``${X:-default}``."""
    return [m.group(3) for m in _INTERP.finditer(value.replace("$$", ""))
            if m.group(2) in (":-", "-") and m.group(3)]


class _Service:
    def __init__(self, name: str, body: dict[str, Any], prefix: tuple[Hashable, ...],
                 doc: YamlDocument, raw: list[str], rel: str, analysis: Analysis,
                 own_lines: dict[tuple[Hashable, ...], int]) -> None:
        self.name = name
        self.body = body
        self.prefix = prefix
        self.doc = doc
        self.raw = raw
        self.rel = rel
        self.analysis = analysis
        self.own_lines = own_lines
        """The lines of the key paths below the service, relative to it."""
        self.start = doc.line_of(prefix) or 1
        self.end = max([self.start, *own_lines.values()])

    def line(self, *path: Hashable) -> int:
        return self.doc.line_of((*self.prefix, *path)) or self.start

    def hit(self, rule: str, path: tuple[Hashable, ...], message: str, evidence: str = "",
            severity: Severity | None = None, confidence: Confidence | None = None) -> None:
        self.analysis.hits.append(IacHit(
            rule_id=rule, path=self.rel, line=self.line(*path),
            message=scrub(f"service {self.name}: {message}"), resource=f"service {self.name}",
            block=(self.start, self.end), severity=severity, confidence=confidence,
            evidence=scrub(evidence)[:300]))

    def raw_text(self, *path: Hashable) -> str:
        line = self.doc.lines.get((*self.prefix, *path))
        if line is None or not 0 < line <= len(self.raw):
            return ""
        return self.raw[line - 1]

    def resource(self) -> IacResource:
        lines = {".".join(str(p) for p in loc): line for loc, line in self.own_lines.items()}
        return IacResource(framework="compose", type="service", name=f"service {self.name}",
                           path=self.rel, line=self.start, attrs=_resolved(self.body),
                           end_line=self.end, lines=lines)


def _resolved(value: Any) -> Any:
    """``value`` with ``${VAR:-default}`` applied in every string, and a string that still needs
    a variable made an :class:`Unresolved` (what organisation policies see)."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        text, complete = _interpolate(value)
        return text if complete else Unresolved(value, "needs a variable set outside the file")
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item) for item in value]
    return value


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _check_flags(svc: _Service) -> None:
    body = svc.body
    if _is_true(body.get("privileged")):
        svc.hit("iac.compose.privileged", ("privileged",), "privileged: true gives the "
                "container every capability and the host's devices", "privileged: true")
    for key in ("network_mode", "net"):  # net: the legacy v1 spelling
        if str(body.get(key, "")).strip().lower() == "host":
            svc.hit("iac.compose.host-network", (key,),
                    f"{key}: host shares the host's network stack", f"{key}: host")
    for key, severity in _NAMESPACES.items():
        if str(body.get(key, "")).strip().lower() == "host":
            svc.hit("iac.compose.host-namespace", (key,),
                    f"{key}: host shares the host's {key.removesuffix('_mode')} namespace",
                    f"{key}: host", severity=severity)
    user = body.get("user")
    if user is not None and not isinstance(user, bool):
        name = str(user).split(":", 1)[0].strip().lower()
        if name in ("root", "0"):
            svc.hit("iac.compose.root-user", ("user",), f"user: {user} runs the service as "
                    "root", f"user: {user}")


def _check_caps(svc: _Service) -> None:
    caps = svc.body.get("cap_add")
    if not isinstance(caps, list):
        return
    for index, cap in enumerate(caps):
        if not isinstance(cap, str):
            continue
        norm = cap.strip().upper().removeprefix("CAP_")
        severity = _DANGEROUS_CAPS.get(norm)
        if severity is not None:
            svc.hit("iac.compose.dangerous-capability", ("cap_add", index),
                    f"cap_add {norm}", f"cap_add: {cap}", severity=severity)


def _check_security_opt(svc: _Service) -> None:
    opts = svc.body.get("security_opt")
    if not isinstance(opts, list):
        return
    for index, opt in enumerate(opts):
        if isinstance(opt, str) and _SECURITY_OFF.match(opt.strip()):
            svc.hit("iac.compose.security-profile-disabled", ("security_opt", index),
                    f"security_opt {opt.strip()} disables kernel confinement",
                    f"security_opt: {opt.strip()}")


def named_binds(data: Any) -> dict[str, str]:
    """Top-level named volumes that are host directories in disguise (``driver_opts: {type:
    none, o: bind, device: /var/run}``): name -> host path."""
    out: dict[str, str] = {}
    volumes = data.get("volumes") if isinstance(data, dict) else None
    if not isinstance(volumes, dict):
        return out
    for name, spec in volumes.items():
        opts = spec.get("driver_opts") if isinstance(spec, dict) else None
        if not isinstance(opts, dict):
            continue
        device, o = opts.get("device"), str(opts.get("o", ""))
        if isinstance(device, str) and "bind" in o.split(","):
            path, complete = _interpolate(device.strip())
            if complete:
                out[str(name)] = path
    return out


def _bind_of(entry: Any, named: dict[str, str]) -> tuple[str, bool] | None:
    """(host source, read-only) of a bind mount entry (or of a named volume that binds a host
    path); None for other volumes or a source that needs a variable."""
    if isinstance(entry, str):
        text, complete = _interpolate(entry.strip())
        if not complete:
            return None
        if text.startswith("\\\\.\\pipe\\"):  # Windows named pipe: \\.\pipe\docker_engine
            source = text.split(":", 1)[0]
            return source, False
        parts = text.split(":")
        if len(parts) >= 2 and len(parts[0]) == 1 and parts[0].isalpha():
            parts = [parts[0] + ":" + parts[1], *parts[2:]]  # C:\path
        if len(parts) < 2:
            return None  # an anonymous volume at a container path
        source = named.get(parts[0], parts[0])
        mode = parts[2] if len(parts) >= 3 and _MODES.match(parts[2]) else ""
        read_only = "ro" in mode.split(",")
    elif isinstance(entry, dict):
        kind = str(entry.get("type", "bind" if str(entry.get("source", "")).startswith("/")
                             else "volume"))
        raw_source = entry.get("source")
        if not isinstance(raw_source, str):
            return None
        if kind == "volume" and raw_source in named:
            raw_source = named[raw_source]
        elif kind != "bind":
            return None
        source, complete = _interpolate(raw_source.strip())
        if not complete:
            return None
        read_only = _is_true(entry.get("read_only"))
    else:
        return None
    if not source.startswith(("/", "\\\\")):
        return None  # relative path or named volume
    return source, read_only


def _check_volumes(svc: _Service, named: dict[str, str]) -> None:
    volumes = svc.body.get("volumes")
    if not isinstance(volumes, list):
        return
    for index, entry in enumerate(volumes):
        bind = _bind_of(entry, named)
        if bind is None:
            continue
        source, read_only = bind
        shown = entry if isinstance(entry, str) else f"source: {entry.get('source')}"
        if source.lower().startswith("\\\\.\\pipe\\docker_engine"):
            svc.hit("iac.compose.docker-socket", ("volumes", index),
                    "mounts the Docker engine's named pipe", f"volumes: {shown}")
            continue
        path = posixpath.normpath(source.replace("//", "/")) if source != "/" else "/"
        path = "/" + path.lstrip("/")
        if posixpath.basename(path) in _SOCKETS:
            svc.hit("iac.compose.docker-socket", ("volumes", index),
                    f"mounts the container engine socket {path}"
                    + (" (read-only does not limit the API)" if read_only else ""),
                    f"volumes: {shown}")
            continue
        if path in _SOCKET_DIRS:
            svc.hit("iac.compose.docker-socket", ("volumes", index),
                    f"mounts {path}, which holds the container engine socket",
                    f"volumes: {shown}", confidence=Confidence.MEDIUM)
            continue
        if path in _HARMLESS:
            continue
        if path in _SENSITIVE_DIRS:
            svc.hit("iac.compose.sensitive-host-mount", ("volumes", index),
                    f"mounts the host's {path}" + (" read-only" if read_only else
                                                   " read-write"), f"volumes: {shown}",
                    severity=Severity.MEDIUM if read_only else None)
        elif path.startswith(_SENSITIVE_TREES) and not read_only:
            svc.hit("iac.compose.sensitive-host-mount", ("volumes", index),
                    f"mounts the host's {path} read-write", f"volumes: {shown}",
                    severity=Severity.MEDIUM)


def _port_range(text: str) -> tuple[int, int] | None:
    low, _, high = text.strip().partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        return None
    return (first, last) if 0 < first <= last <= 65535 else None


def _sensitive(first: int, last: int) -> tuple[int, str] | None:
    if last - first > 5000:
        return None  # a huge range is a deliberate wide mapping, judged by hand
    for port in range(first, last + 1):
        if port in SENSITIVE_PORTS:
            return port, SENSITIVE_PORTS[port]
    return None


def _parse_short_port(text: str) -> tuple[str, str] | None:
    """(host ip, container port or range) of a short-syntax mapping."""
    text, complete = _interpolate(text.strip())
    if not complete:
        return None
    text = text.split("/", 1)[0]
    if text.startswith("["):
        host_ip, _, rest = text[1:].partition("]")
        parts = rest.lstrip(":").split(":")
        return (host_ip, parts[-1]) if parts else None
    parts = text.split(":")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return "", parts[1]
    return ":".join(parts[:-2]), parts[-1]


def _check_ports(svc: _Service) -> None:
    ports = svc.body.get("ports")
    if not isinstance(ports, list):
        return
    for index, entry in enumerate(ports):
        if isinstance(entry, bool):
            continue
        host_ip, container = "", ""
        if isinstance(entry, int):
            raw = svc.raw_text("ports", index)
            match = re.search(r"-\s*([0-9:]+)\s*(#.*)?$", raw)
            text = match.group(1) if match else str(entry)
            parsed = _parse_short_port(text)
            if parsed is None:
                continue
            host_ip, container = parsed
            shown = text
        elif isinstance(entry, str):
            parsed = _parse_short_port(entry)
            if parsed is None:
                continue
            host_ip, container = parsed
            shown = entry
        elif isinstance(entry, dict):
            target = entry.get("target")
            if target is None:
                continue
            container = str(target)
            raw_ip = entry.get("host_ip", "")
            host_ip, complete = _interpolate(str(raw_ip or ""))
            if not complete:
                continue
            shown = f"target: {target}, host_ip: {raw_ip or '(all)'}"
        else:
            continue
        host_ip = host_ip.strip()
        if host_ip not in _ALL_INTERFACES:
            continue  # loopback or one chosen interface
        bounds = _port_range(container)
        if bounds is None:
            continue
        found = _sensitive(*bounds)
        if found is None:
            continue
        port, what = found
        severity = Severity.HIGH if port in (2375, 2376, 10250, 2379) else None
        svc.hit("iac.compose.sensitive-port-public", ("ports", index),
                f"publishes {what} (container port {port}) on all host interfaces",
                f"ports: {shown}", severity=severity)


def _env_items(value: Any) -> Iterator[tuple[Hashable, str, Any]]:
    """(key path step, name, value) of a map or ``KEY=value`` list."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield name, str(name), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                name, eq, val = item.partition("=")
                yield index, name.strip(), (val if eq else None)


def _check_env_map(svc: _Service, key: tuple[Hashable, ...], value: Any, what: str) -> None:
    for step, name, item in _env_items(value):
        if item is None or isinstance(item, bool) or not isinstance(item, str | int | float):
            continue
        text = str(item)
        shape = known_key_shape(text)
        path = (*key, step)
        if shape:
            svc.hit("iac.compose.secret-in-environment", path,
                    f"{what} {name} looks like a {shape.removeprefix('secrets.')}",
                    f"{name}={redact(text)}", confidence=Confidence.HIGH)
            continue
        password = url_password(text)
        if password:
            svc.hit("iac.compose.secret-in-environment", path,
                    f"{what} {name} is a URL with a password",
                    f"{name}={scrub(text.replace(password, redact(password)))}",
                    confidence=Confidence.LOW if weak_value(password) else None)
            continue
        if not secret_name(name):
            continue
        if "$" in text.replace("$$", ""):
            literal = [d for d in _defaults(text) if literal_value(d)]
            if literal:
                svc.hit("iac.compose.secret-in-environment", path,
                        f"{what} {name} falls back to a literal default when the variable is "
                        "unset", f"{name}=${{…:-{redact(literal[0])}}}",
                        confidence=Confidence.MEDIUM)
            continue
        if literal_value(text):
            svc.hit("iac.compose.secret-in-environment", path,
                    f"{what} {name} is a literal value", f"{name}={redact(text)}",
                    confidence=Confidence.LOW if weak_value(text) else None)


def _check_image(svc: _Service) -> None:
    image = svc.body.get("image")
    if not isinstance(image, str) or not image.strip() or "build" in svc.body:
        return  # with build:, image: names what is built, not what is pulled
    text, _ = _interpolate(image.strip())
    ref = parse_image(text)
    if "$" in ref.tag or "$" in ref.name or "$" in ref.digest:
        return  # the tag needs a variable: whoever sets it decides
    if not ref.pinned:
        svc.hit("iac.compose.image-unpinned", ("image",),
                f"image {image} has {'the latest tag' if ref.tag else 'no tag'}",
                f"image: {image}", confidence=None if image == text else Confidence.MEDIUM)


def _check_inline_dockerfile(svc: _Service, text: str) -> None:
    """``build.dockerfile_inline``: the Dockerfile rules, hits placed on the file's lines (a
    block scalar's content starts on the line after its key; other forms are placed on the
    key)."""
    path = ("build", "dockerfile_inline")
    key_line = svc.line(*path)
    block = bool(re.search(r":\s*[|>][-+0-9]*\s*(#.*)?$", svc.raw_text(*path)))
    inner = dockerfile.analyse_text(text, svc.rel)
    for hit in inner.hits:
        line = key_line + hit.line if block and hit.line is not None else key_line
        svc.analysis.hits.append(IacHit(
            rule_id=hit.rule_id, path=svc.rel, line=line,
            message=f"service {svc.name}: dockerfile_inline: "
                    + hit.message.removeprefix("Dockerfile "),
            resource=f"service {svc.name}", block=(svc.start, svc.end), severity=hit.severity,
            confidence=hit.confidence, evidence=hit.evidence))
    for problem in inner.problems:
        svc.analysis.problems.append(Problem(
            problem.rule_id, svc.rel, key_line,
            f"service {svc.name}: dockerfile_inline: {problem.message}"))


def _services(doc: YamlDocument) -> tuple[dict[str, Any], tuple[Hashable, ...]] | None:
    data = doc.data
    if not isinstance(data, dict):
        return None
    services = data.get("services")
    if isinstance(services, dict):
        return services, ("services",)
    if "services" in data or "version" in data:
        return {}, ("services",)
    # legacy v1: services at the top level
    legacy = {k: v for k, v in data.items() if isinstance(v, dict) and
              ("image" in v or "build" in v) and not str(k).startswith("x-")}
    return (legacy, ()) if legacy else None


def analyse_text(text: str, rel: str) -> Analysis:
    """Analyse one Compose file's text (``rel`` names it in hits and problems)."""
    analysis = Analysis()
    try:
        doc = parse_yaml(text, rel)
    except ConfigError as exc:
        analysis.problems.append(Problem("iac.parse-error", rel, line_of_error(str(exc)),
                                         f"{exc}: not analysed"))
        return analysis
    found = _services(doc)
    if found is None:
        if doc.data is not None:
            analysis.problems.append(Problem("iac.parse-error", rel, 1, "no services mapping: "
                                             "not a Compose file; not analysed"))
        else:
            analysis.files = 1
        return analysis
    services, prefix = found
    named = named_binds(doc.data)
    raw = re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text)  # YAML's line breaks, as its marks count
    by_service: dict[Hashable, dict[tuple[Hashable, ...], int]] = {}
    depth = len(prefix)
    for loc, line in doc.lines.items():  # one pass: each service's own key lines
        if len(loc) > depth + 1 and loc[:depth] == prefix:
            by_service.setdefault(loc[depth], {})[loc[depth + 1:]] = line
    for name, body in services.items():
        if str(name).startswith("x-"):
            continue
        if not isinstance(body, dict):
            if body is not None:
                analysis.problems.append(Problem(
                    "iac.parse-error", rel, doc.line_of((*prefix, name)),
                    f"service {name}: not a mapping; not analysed"))
            continue
        svc = _Service(str(name), body, (*prefix, name), doc, raw, rel, analysis,
                       by_service.get(name, {}))
        _check_flags(svc)
        _check_caps(svc)
        _check_security_opt(svc)
        _check_volumes(svc, named)
        _check_ports(svc)
        _check_env_map(svc, ("environment",), body.get("environment"), "environment")
        build = body.get("build")
        if isinstance(build, dict):
            _check_env_map(svc, ("build", "args"), build.get("args"), "build arg")
            if isinstance(build.get("dockerfile_inline"), str):
                _check_inline_dockerfile(svc, build["dockerfile_inline"])
        _check_image(svc)
        analysis.resources.append(svc.resource())
    analysis.files = 1
    return analysis


def analyse_file(file: IacFile, budget: Budget) -> Analysis:
    """Read (within the budget) and analyse one Compose file; problems, never exceptions."""
    analysis = Analysis()
    data = read_file(file, budget, analysis.problems, cap=MAX_COMPOSE_BYTES)
    if data is None:
        return analysis
    text = decode(data, file.rel, analysis.problems)
    if text is None:
        return analysis
    return analyse_text(text, file.rel)
