"""AWS network rules: security group ingress open to the whole internet (IPv4 ``0.0.0.0/0`` or
IPv6 ``::/0``) on admin ports, database ports or every port — in ``aws_security_group`` /
``aws_default_security_group`` ingress blocks, ``aws_security_group_rule`` (type ingress) and
``aws_vpc_security_group_ingress_rule``. Egress to everywhere is not reported (almost every
group has it), nor is the internet reaching web ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from secpipe.core.findings import Severity
from secpipe.scanners.iac.model import IacHit, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws_common import (
    Check,
    as_bool,
    as_int,
    as_list,
    as_str,
    hit,
    is_world,
    rule,
    short,
    sub_blocks,
    unresolved,
)

SG_ADMIN = "iac.aws.sg-open-admin-port"
SG_ALL = "iac.aws.sg-open-all-ports"
SG_DATABASE = "iac.aws.sg-open-database-port"
SG_DEFAULT = "iac.aws.default-sg-allows-traffic"
NACL_ADMIN = "iac.aws.nacl-open-admin-port"

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
DATABASE_PORTS = {1433: "SQL Server", 1521: "Oracle", 3306: "MySQL", 5432: "PostgreSQL",
                  5439: "Redshift", 6379: "Redis", 9200: "Elasticsearch", 11211: "Memcached",
                  27017: "MongoDB", 9042: "Cassandra"}

_SG_BAD = '''resource "aws_security_group" "bastion" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}'''

RULES = [
    rule(
        SG_ADMIN, "Security group allows SSH or RDP from the whole internet",
        Severity.HIGH, "CWE-284", ("CIS-AWS-5.2", "NIST-800-53:SC-7", "NIST-800-53:AC-17"),
        "Remote administration ports open to 0.0.0.0/0 or ::/0 are scanned and brute-forced "
        "within minutes of exposure; one weak key or unpatched daemon gives a shell.",
        "Allow 22/3389 only from a bastion, VPN or corporate CIDR (or use SSM Session Manager "
        "and close the port).",
        _SG_BAD,
        _SG_BAD.replace('["0.0.0.0/0"]', '["10.20.0.0/16"]') +
        '\n# the internet on 443 is not reported\n'
        'resource "aws_vpc_security_group_ingress_rule" "https" {\n'
        '  security_group_id = aws_security_group.web.id\n  cidr_ipv4 = "0.0.0.0/0"\n'
        '  from_port = 443\n  to_port = 443\n  ip_protocol = "tcp"\n}',
        ("CKV_AWS_24", "CKV_AWS_25", "AVD-AWS-0107", "aws-ec2-no-public-ingress-sgr")),
    rule(
        SG_ALL, "Security group allows every port from the whole internet",
        Severity.CRITICAL, "CWE-284", ("CIS-AWS-5.2", "NIST-800-53:SC-7"),
        "Protocol -1 or ports 0-65535 from 0.0.0.0/0 or ::/0 exposes every service the "
        "instances run, including ones never meant to be reachable.",
        "List the ports the service needs and the sources that need them.",
        'resource "aws_security_group_rule" "all" {\n  type        = "ingress"\n'
        '  from_port   = 0\n  to_port     = 0\n  protocol    = "-1"\n'
        '  cidr_blocks = ["0.0.0.0/0"]\n  security_group_id = aws_security_group.app.id\n}',
        '# egress to everywhere is not reported\nresource "aws_security_group_rule" "out" {\n'
        '  type        = "egress"\n  from_port   = 0\n  to_port     = 0\n  protocol    = "-1"\n'
        '  cidr_blocks = ["0.0.0.0/0"]\n  security_group_id = aws_security_group.app.id\n}',
        ("CKV_AWS_277", "AVD-AWS-0107", "aws-ec2-no-public-ingress-sgr")),
    rule(
        SG_DATABASE, "Security group allows a database port from the whole internet",
        Severity.HIGH, "CWE-284", ("NIST-800-53:SC-7",),
        "Databases and caches (MySQL, PostgreSQL, Redis, MongoDB, Elasticsearch…) reachable "
        "from the internet are a leading cause of data breaches: weak or default credentials, "
        "unauthenticated caches and unpatched servers are found by mass scanners.",
        "Reach databases from the application's security group (source_security_group_id / "
        "referenced_security_group_id) or private CIDRs only.",
        _SG_BAD.replace("22", "5432"),
        _SG_BAD.replace("22", "5432").replace(
            'cidr_blocks = ["0.0.0.0/0"]', "security_groups = [aws_security_group.app.id]"),
        ()),
    rule(
        SG_DEFAULT, "Default security group allows traffic",
        Severity.LOW, "CWE-284", ("CIS-AWS-5.3", "NIST-800-53:SC-7", "NIST-800-53:AC-4"),
        "Every resource launched without a security group lands in the VPC's default group; "
        "rules on it silently apply to all of them.",
        "Manage aws_default_security_group with no ingress and no egress blocks and give each "
        "workload its own group.",
        'resource "aws_default_security_group" "default" {\n  vpc_id = aws_vpc.main.id\n'
        '  ingress {\n    protocol  = -1\n    self      = true\n    from_port = 0\n'
        '    to_port   = 0\n  }\n}',
        'resource "aws_default_security_group" "default" {\n  vpc_id = aws_vpc.main.id\n}',
        ("CKV2_AWS_12", "AVD-AWS-0173", "aws-ec2-restrict-all-in-default-sg")),
    rule(
        NACL_ADMIN, "Network ACL allows SSH or RDP from the whole internet",
        Severity.MEDIUM, "CWE-284", ("CIS-AWS-5.1", "NIST-800-53:SC-7"),
        "The first matching rule of a network ACL that admits 0.0.0.0/0 or ::/0 on port 22 or "
        "3389 leaves only security groups between the internet and remote administration.",
        "Deny 22/3389 from 0.0.0.0/0 and ::/0 with a lower rule number than any broad allow, "
        "or narrow the allow rules to known ranges.",
        'resource "aws_network_acl_rule" "ssh" {\n  network_acl_id = aws_network_acl.pub.id\n'
        '  rule_number    = 100\n  egress         = false\n  protocol       = "tcp"\n'
        '  rule_action    = "allow"\n  cidr_block     = "0.0.0.0/0"\n  from_port      = 22\n'
        '  to_port        = 22\n}',
        'resource "aws_network_acl_rule" "https" {\n  network_acl_id = aws_network_acl.pub.id\n'
        '  rule_number    = 100\n  egress         = false\n  protocol       = "tcp"\n'
        '  rule_action    = "allow"\n  cidr_block     = "0.0.0.0/0"\n  from_port      = 443\n'
        '  to_port        = 443\n}',
        ("CKV_AWS_232", "CKV_AWS_231", "AVD-AWS-0105", "aws-ec2-no-public-ingress-acl")),
]


@dataclass
class Ingress:
    """One ingress permission, whatever the resource form."""

    res: TfResource
    body: TfBlock
    protocol: Any
    from_port: Any
    to_port: Any
    cidrs: list[tuple[str, Any]]
    """(attribute, value) of each CIDR written."""


def _ingresses(model: TfModel) -> Iterator[Ingress]:
    for res in model.of_type("aws_security_group", "aws_default_security_group"):
        for block in sub_blocks(res.body, "ingress"):
            yield Ingress(res, block, block.get("protocol"), block.get("from_port"),
                          block.get("to_port"), _cidrs(block, ("cidr_blocks",
                                                               "ipv6_cidr_blocks")))
    for res in model.of_type("aws_security_group_rule"):
        if res.body.get("type") != "ingress":
            continue
        yield Ingress(res, res.body, res.body.get("protocol"), res.body.get("from_port"),
                      res.body.get("to_port"), _cidrs(res.body, ("cidr_blocks",
                                                                 "ipv6_cidr_blocks")))
    for res in model.of_type("aws_vpc_security_group_ingress_rule"):
        yield Ingress(res, res.body, res.body.get("ip_protocol"), res.body.get("from_port"),
                      res.body.get("to_port"), _cidrs(res.body, ("cidr_ipv4", "cidr_ipv6")))


def _cidrs(body: TfBlock, attrs: tuple[str, ...]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for attr in attrs:
        value = body.get(attr)
        if isinstance(value, Unresolved):
            out.append((attr, value))
            continue
        out.extend((attr, v) for v in as_list(value))
    return out


ALL_PROTOCOLS = {"-1", "all"}
PORT_PROTOCOLS = {"tcp", "6", "udp", "17"}


def _ports(ing: Ingress) -> tuple[int, int] | Unresolved | None:
    """The port range (``(0, 65535)`` for every protocol), an unresolved value, or ``None``
    when the protocol has no ports (ICMP…)."""
    protocol = as_str(ing.protocol)
    if isinstance(protocol, Unresolved):
        return protocol
    proto = (protocol or "").strip().lower()
    if proto in ALL_PROTOCOLS:
        return (0, 65535)
    if proto not in PORT_PROTOCOLS:
        return None
    low = as_int(ing.from_port)
    high = as_int(ing.to_port)
    if isinstance(low, Unresolved):
        return low
    if isinstance(high, Unresolved):
        return high
    if low is None and high is None:
        return None
    low = low if low is not None else high
    high = high if high is not None else low
    assert low is not None and high is not None
    if low < 0 or high < 0:
        return (0, 65535)
    return (min(low, high), max(low, high))


def _describe(ports: tuple[int, int]) -> str:
    low, high = ports
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _judge(ing: Ingress) -> Iterator[IacHit | Problem]:
    world = [(attr, c) for attr, c in ing.cidrs if is_world(c) is True]
    unknown = [(attr, c) for attr, c in ing.cidrs if isinstance(c, Unresolved)]
    if not world and not unknown:
        return
    ports = _ports(ing)
    if ports is None:
        return
    attr_for_ports = "protocol" if ing.body.has("protocol") else "ip_protocol"
    if isinstance(ports, Unresolved):
        if ports is ing.from_port:
            attr_for_ports = "from_port"
        elif ports is ing.to_port:
            attr_for_ports = "to_port"
        # one problem per ingress: which of the three rules applies depends on the ports
        yield unresolved(SG_ADMIN, ing.res, attr_for_ports, ports, ing.body)
        return
    low, high = ports
    everything = low <= 1 and high >= 65535
    admin = [p for p in ADMIN_PORTS if low <= p <= high]
    database = [p for p in DATABASE_PORTS if low <= p <= high]
    if everything:
        rule_id = SG_ALL
    elif admin:
        rule_id = SG_ADMIN
    elif database:
        rule_id = SG_DATABASE
    else:
        return
    if not world:
        attr, value = unknown[0]
        assert isinstance(value, Unresolved)
        yield unresolved(rule_id, ing.res, attr, value, ing.body)
        return
    attr, cidr = world[0]
    if rule_id == SG_ALL:
        what = "every port" if ports == (0, 65535) else _describe(ports)
    elif rule_id == SG_ADMIN:
        what = f"{_describe(ports)} ({', '.join(ADMIN_PORTS[p] for p in admin)})"
    else:
        names = ", ".join(DATABASE_PORTS[p] for p in database[:3])
        what = f"{_describe(ports)} ({names})"
    yield hit(rule_id, ing.res, f"ingress from {short(cidr)} to {what}", attr=attr,
              body=ing.body, evidence=f"{attr} = {short(cidr)}")


def check_ingress(model: TfModel) -> Iterator[IacHit | Problem]:
    for ing in _ingresses(model):
        yield from _judge(ing)
    for res in model.of_type("aws_security_group_rule"):
        kind = res.body.get("type")
        cidrs = _cidrs(res.body, ("cidr_blocks", "ipv6_cidr_blocks"))
        if isinstance(kind, Unresolved) and any(is_world(c) is True for _, c in cidrs):
            yield unresolved(SG_ADMIN, res, "type", kind)


def check_default_sg(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_default_security_group"):
        for kind in ("ingress", "egress"):
            if sub_blocks(res.body, kind):
                yield hit(SG_DEFAULT, res, f"the default security group has {kind} rules",
                          attr=kind)
                break


@dataclass
class AclEntry:
    res: TfResource
    body: TfBlock
    number: int
    allow: bool
    ports: tuple[int, int]
    cidr: str


def _acl_entry(res: TfResource, body: TfBlock, number_attr: str, action_attr: str,
               cidr_attrs: tuple[str, str]) -> AclEntry | Unresolved | None:
    """One NACL ingress entry that matches traffic from the whole internet (else None)."""
    cidrs = [body.get(a) for a in cidr_attrs]
    bad = next((c for c in cidrs if isinstance(c, Unresolved)), None)
    world = next((c for c in cidrs if isinstance(c, str) and is_world(c) is True), None)
    ports = _ports(Ingress(res, body, body.get("protocol"), body.get("from_port"),
                           body.get("to_port"), []))
    if world is None:
        if bad is None or ports is None or (
                isinstance(ports, tuple) and not any(ports[0] <= p <= ports[1]
                                                     for p in ADMIN_PORTS)):
            return None
        return bad
    number = as_int(body.get(number_attr))
    action = as_str(body.get(action_attr))
    if isinstance(number, Unresolved):
        return number
    if isinstance(action, Unresolved):
        return action
    if isinstance(ports, Unresolved):
        return ports
    if ports is None or number is None:
        return None
    return AclEntry(res, body, number, (action or "").lower() == "allow", ports, world)


def check_nacl(model: TfModel) -> Iterator[IacHit | Problem]:
    groups: dict[str, list[AclEntry | tuple[TfResource, TfBlock, Unresolved]]] = {}
    for res in model.of_type("aws_network_acl", "aws_default_network_acl"):
        key = res.address
        for block in sub_blocks(res.body, "ingress"):
            entry = _acl_entry(res, block, "rule_no", "action", ("cidr_block", "ipv6_cidr_block"))
            if entry is not None:
                groups.setdefault(key, []).append(
                    entry if isinstance(entry, AclEntry) else (res, block, entry))
    for res in model.of_type("aws_network_acl_rule"):
        egress = as_bool(res.body.get("egress", False))
        if egress is True:
            continue
        acl = res.body.get("network_acl_id")
        key = f"{acl.address}" if isinstance(acl, Ref) else f"{res.module}:{short(acl)}"
        entry = _acl_entry(res, res.body, "rule_number", "rule_action",
                           ("cidr_block", "ipv6_cidr_block"))
        if isinstance(egress, Unresolved):
            entry = egress if entry is not None else None
        if entry is not None:
            groups.setdefault(key, []).append(
                entry if isinstance(entry, AclEntry) else (res, res.body, entry))
    for entries in groups.values():
        known = sorted((e for e in entries if isinstance(e, AclEntry)), key=lambda e: e.number)
        unknown = [e for e in entries if not isinstance(e, AclEntry)]
        reported: set[int] = set()
        if unknown:
            res, body, value = unknown[0]
            yield unresolved(NACL_ADMIN, res, "cidr_block", value, body)
            continue
        for port, name in ADMIN_PORTS.items():
            first = next((e for e in known if e.ports[0] <= port <= e.ports[1]), None)
            if first is None or not first.allow:
                continue
            if id(first) in reported:
                continue
            reported.add(id(first))
            yield hit(NACL_ADMIN, first.res,
                      f"rule {first.number} allows {short(first.cidr)} to "
                      f"{_describe(first.ports)} ({name})",
                      attr="cidr_block" if first.body.has("cidr_block") else "ipv6_cidr_block",
                      body=first.body, evidence=f"cidr = {short(first.cidr)}")


CHECKS: list[Check] = [check_ingress, check_default_sg, check_nacl]
