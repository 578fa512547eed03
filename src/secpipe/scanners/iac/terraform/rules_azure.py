"""Terraform rules for Azure (``azurerm`` 3.x and 4.x attribute names, 2.x where still common).

Each check reads a :class:`~.model.TfModel` and yields :class:`IacHit` for a resource whose
setting is insecure, or an ``iac.unresolved`` :class:`Problem` when the value that decides it
could not be computed statically (never a silent pass). Defaults are the provider's: an absent
attribute is judged by what ``azurerm`` sends for it, and a hit that rests on a default says so
and carries a lower confidence.

Provider defaults this module relies on (azurerm 3.x/4.x; stated because they changed):

* ``azurerm_storage_account.allow_nested_items_to_be_public`` defaults to ``true`` (3.0 renamed
  2.x's ``allow_blob_public_access``, whose default was ``false``; 4.x kept ``true`` even though
  the Azure platform default for new accounts became ``false`` in 2023 — the provider sends the
  value explicitly). An absent value is therefore reported, at medium confidence.
* ``min_tls_version`` defaults to ``TLS1_2`` (3.0; it was ``TLS1_0`` in 2.x): absent is not
  reported. ``https_traffic_only_enabled`` (4.x) / ``enable_https_traffic_only`` (3.x) default
  to ``true``.
* Public network access of SQL, PostgreSQL/MySQL, container registries, ML workspaces and
  Cognitive Services accounts defaults to enabled.
* ``ftps_state`` defaults to ``AllAllowed`` on the legacy ``azurerm_app_service`` /
  ``azurerm_function_app`` (and slots), to ``Disabled`` on the ``*_web_app``/``*_function_app``
  resources of 3.x/4.x.

Judgements worth knowing: SSH and RDP rules need TCP (``Tcp`` or ``*``; RDP's UDP transport
only follows a TCP session); a rule allowing every port is reported once, as
``nsg-all-ports-open``, not again as SSH and RDP; ``0.0.0.0`` to ``0.0.0.0`` is Azure's "allow
Azure services" firewall rule and not a world-open one; an unknown ``ip_rules`` list behind a
``Deny`` default is not reported (the default still denies).

The small value helpers at the top are shared with :mod:`.rules_gcp`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, IacRule, Problem, Ref, Unresolved, rule_table
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource

Check = Callable[[TfModel], Iterable[IacHit | Problem]]
Found = Iterator[IacHit | Problem]

# --------------------------------------------------------------------------------------------
# Value helpers (shared with rules_gcp)
# --------------------------------------------------------------------------------------------

SHOW_MAX = 80
"""Values shown in messages are cut at this many characters."""


def show(value: Any) -> str:
    """A value as a message shows it: ``"TLS1_0"``, ``false``, ``["0.0.0.0/0"]``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = f'"{value}"'
    elif isinstance(value, (Unresolved, Ref)):
        text = value.text if isinstance(value, Unresolved) else str(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif value is None:
        text = "null"
    else:
        text = str(value)
    text = " ".join(text.split())  # one line, whatever the value holds
    return text if len(text) <= SHOW_MAX else text[: SHOW_MAX - 1] + "…"


def as_unresolved(value: Any, why: str = "") -> Unresolved:
    """The :class:`Unresolved` a value stands for (a reference, a list holding one, or a value
    of the wrong type)."""
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Unresolved):
                return item
    if isinstance(value, Ref):
        return Unresolved(str(value), why or "value of another resource, known after apply")
    return Unresolved(show(value), why or "unexpected type")


def flag(block: TfBlock | None, name: str, default: bool | None = None) -> bool | Unresolved | None:
    """A boolean attribute: its value, ``default`` when absent, :class:`Unresolved` when it
    cannot be known (``"true"``/``"false"`` strings are what Terraform converts them to)."""
    hidden = opaque(block)
    if hidden is not None:
        return hidden
    if block is None or not block.has(name):
        return default
    value = block.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, list) and not value:
        return default
    return as_unresolved(value, "not a boolean")


def text(block: TfBlock | None, name: str, default: str | None = None) -> str | Unresolved | None:
    """A string attribute (numbers given as numbers are turned into text)."""
    hidden = opaque(block)
    if hidden is not None:
        return hidden
    if block is None or not block.has(name):
        return default
    value = block.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if value is None:
        return default
    return as_unresolved(value, "not a string")


def items(block: TfBlock | None, name: str) -> list[Any] | Unresolved:
    """A list attribute (a single value is a one-item list; absent is empty)."""
    hidden = opaque(block)
    if hidden is not None:
        return hidden
    if block is None or not block.has(name):
        return []
    value = block.get(name)
    if isinstance(value, (Unresolved, Ref)):
        return as_unresolved(value)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


OPAQUE = "_unresolved"
"""Attribute of the stand-in block :func:`sub_blocks` makes for a nested block whose whole value
is unresolved (``security_rule = var.rules``)."""


def sub_blocks(body: TfBlock | None, name: str) -> list[TfBlock]:
    """Nested blocks called ``name``: written as blocks, as an attribute holding objects
    (``security_rule = [{ … }]``, attributes-as-blocks), or unresolved (one stand-in block
    whose :data:`OPAQUE` attribute holds the :class:`Unresolved`)."""
    if body is None or name not in body.attrs:
        return []
    value = body.attrs[name]
    line = body.line_of(name)
    out: list[TfBlock] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, TfBlock):
            out.append(item)
        elif isinstance(item, dict):
            out.append(TfBlock(attrs=dict(item), line=line, end_line=line))
        elif isinstance(item, (Unresolved, Ref)):
            out.append(TfBlock(attrs={OPAQUE: as_unresolved(item)}, line=line, end_line=line,
                               lines={OPAQUE: line} if line is not None else {}))
    return out


def sub_block(body: TfBlock | None, name: str) -> TfBlock | None:
    """The first of :func:`sub_blocks`."""
    found = sub_blocks(body, name)
    return found[0] if found else None


def opaque(block: TfBlock | None) -> Unresolved | None:
    """The :class:`Unresolved` a stand-in block holds (else None)."""
    value = block.attrs.get(OPAQUE) if block is not None else None
    return value if isinstance(value, Unresolved) else None


def hit(rule_id: str, res: TfResource, where: TfBlock | None, attr: str, message: str, *,
        severity: Severity | None = None, confidence: Confidence | None = None,
        evidence: str = "") -> IacHit:
    """An :class:`IacHit` at ``attr`` of ``where`` (else the resource's line): the message is
    prefixed with the resource address."""
    line = (where or res.body).line_of(attr)
    return IacHit(rule_id=rule_id, path=res.path, line=line,
                  message=f"{res.address}: {message}", resource=res.address, block=res.block,
                  severity=severity, confidence=confidence, evidence=evidence[:200])


def unresolved(rule_id: str, res: TfResource, where: TfBlock | None, attr: str,
               value: Any) -> Problem:
    """The ``iac.unresolved`` problem for a value rule ``rule_id`` needed and did not get."""
    unknown = as_unresolved(value)
    reason = f" ({_one_line(unknown.reason)})" if unknown.reason else ""
    line = (where or res.body).line_of(attr)
    return Problem("iac.unresolved", res.path, line if line is not None else res.line,
                   f"{rule_id}: {res.address}.{attr} is {_one_line(unknown.text)}{reason}: "
                   "could not be judged")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOW_MAX else text[: SHOW_MAX - 1] + "…"


def lower(value: str | Unresolved | None) -> str | Unresolved | None:
    return value.strip().lower() if isinstance(value, str) else value


PUBLIC_SOURCES = frozenset({"*", "any", "internet", "0.0.0.0", "0.0.0.0/0",  # noqa: S104
                            "::/0", "::", "0/0", "all"})
"""Source words and addresses meaning "anywhere" (Azure service tags included)."""


def is_public_cidr(value: str) -> bool:
    """True for a source that means the whole internet: ``*``, ``Internet``, ``0.0.0.0/0``,
    ``::/0`` or any network with a prefix of 0 or 1 bits (``0.0.0.0/1`` + ``128.0.0.0/1``)."""
    word = value.strip().lower()
    if word in PUBLIC_SOURCES or word.endswith("/0"):
        return True
    try:
        net = ipaddress.ip_network(word, strict=False)
    except ValueError:
        return False
    return net.prefixlen <= 1


def any_public(values: list[Any] | Unresolved) -> bool | Unresolved:
    """True when a source list holds a public source; :class:`Unresolved` when it holds an
    unknown item and no public one."""
    if isinstance(values, Unresolved):
        return values
    unknown: Unresolved | None = None
    for value in values:
        if isinstance(value, str):
            if is_public_cidr(value):
                return True
        elif value is not None:
            unknown = unknown or as_unresolved(value)
    return unknown if unknown is not None else False


ALL_PORTS = (0, 65535)


def port_range(spec: Any) -> tuple[int, int] | None:
    """``"22"``, ``22``, ``"20-25"``, ``"*"`` as an inclusive range; None when not a port."""
    if isinstance(spec, bool):
        return None
    if isinstance(spec, int):
        return (spec, spec) if 0 <= spec <= 65535 else None
    if not isinstance(spec, str):
        return None
    word = spec.strip()
    if word in ("*", "any", "all", ""):
        return ALL_PORTS
    low, sep, high = word.partition("-")
    try:
        first = int(low)
        last = int(high) if sep else first
    except ValueError:
        return None
    if not 0 <= first <= last <= 65535:
        return None
    return (first, last)


def is_all_ports(span: tuple[int, int]) -> bool:
    return span[0] <= 1 and span[1] >= 65535


def covers(span: tuple[int, int], port: int) -> bool:
    return span[0] <= port <= span[1]


def rule(**fields: Any) -> IacRule:
    """An Azure/GCP rule; ``framework`` is always ``terraform``."""
    return IacRule(framework="terraform", **fields)


def with_tool_ids(long_ids: dict[str, str], rules: list[IacRule]) -> dict[str, IacRule]:
    """The rule table, each rule's aliases extended with the tfsec/trivy long id of every AVD
    id it lists (``AVD-AZU-0012`` brings ``azure-storage-default-action-deny``)."""
    out: list[IacRule] = []
    for item in rules:
        extra = tuple(long_ids[a] for a in item.aliases
                      if a in long_ids and long_ids[a] not in item.aliases)
        out.append(dataclasses.replace(item, aliases=item.aliases + extra) if extra else item)
    return rule_table(out)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

_STORAGE = "azurerm_storage_account"

_TFSEC_IDS: dict[str, str] = {
    "AVD-AZU-0004": "azure-appservice-enforce-https",
    "AVD-AZU-0006": "azure-appservice-use-secure-tls-policy",
    "AVD-AZU-0007": "azure-storage-no-public-access",
    "AVD-AZU-0008": "azure-storage-enforce-https",
    "AVD-AZU-0011": "azure-storage-use-secure-tls-policy",
    "AVD-AZU-0012": "azure-storage-default-action-deny",
    "AVD-AZU-0013": "azure-keyvault-specify-network-acl",
    "AVD-AZU-0014": "azure-keyvault-ensure-key-expiry",
    "AVD-AZU-0016": "azure-keyvault-no-purge",
    "AVD-AZU-0017": "azure-keyvault-ensure-secret-expiry",
    "AVD-AZU-0020": "azure-database-enable-ssl-enforcement",
    "AVD-AZU-0022": "azure-database-no-public-access",
    "AVD-AZU-0026": "azure-database-secure-tls-policy",
    "AVD-AZU-0027": "azure-database-enable-audit",
    "AVD-AZU-0029": "azure-database-no-public-firewall-access",
    "AVD-AZU-0038": "azure-compute-enable-disk-encryption",
    "AVD-AZU-0039": "azure-compute-disable-password-authentication",
    "AVD-AZU-0041": "azure-container-limit-authorized-ips",
    "AVD-AZU-0042": "azure-container-use-rbac-permissions",
    "AVD-AZU-0043": "azure-container-configured-network-policy",
    "AVD-AZU-0047": "azure-network-no-public-ingress",
    "AVD-AZU-0048": "azure-network-disable-rdp-from-internet",
    "AVD-AZU-0050": "azure-network-ssh-blocked-from-internet",
    "AVD-AZU-0065": "azure-container-enable-private-cluster",
    "AVD-AZU-0071": "azure-appservice-enforce-ftps",
    "AVD-AZU-0072": "azure-appservice-web-app-https-only",
}
"""trivy/tfsec long ids of the AVD ids used above (their ``tfsec:ignore:`` comments name
these), from the trivy-checks metadata."""

RULES: dict[str, IacRule] = with_tool_ids(_TFSEC_IDS, [
    rule(id="iac.azure.storage-public-blob-access",
         title="Storage account lets containers and blobs be made public",
         severity=Severity.MEDIUM, cwe="CWE-732",
         controls=("CIS-AZURE-3.7", "NIST-800-53:AC-3", "NIST-800-53:AC-21"),
         rationale="With nested public access allowed, one container set to 'blob' or "
                   "'container' exposes its data anonymously; azurerm sends true unless told "
                   "otherwise.",
         fix="Set allow_nested_items_to_be_public = false (allow_blob_public_access on "
             "azurerm 2.x).",
         bad='resource "azurerm_storage_account" "a" { allow_nested_items_to_be_public = true }',
         good='resource "azurerm_storage_account" "a" { allow_nested_items_to_be_public = false }',
         aliases=("CKV_AZURE_190", "CKV2_AZURE_47")),
    rule(id="iac.azure.storage-container-public",
         title="Storage container allows anonymous read access",
         severity=Severity.HIGH, cwe="CWE-732",
         controls=("CIS-AZURE-3.7", "NIST-800-53:AC-3"),
         rationale="container_access_type 'blob' or 'container' lets anyone on the internet read "
                   "the blobs (and list them, for 'container').",
         fix='Use container_access_type = "private" (the default) and grant access with SAS '
             "or Entra ID roles.",
         bad='resource "azurerm_storage_container" "c" { container_access_type = "blob" }',
         good='resource "azurerm_storage_container" "c" { container_access_type = "private" }',
         aliases=("CKV_AZURE_34", "AVD-AZU-0007")),
    rule(id="iac.azure.storage-min-tls",
         title="Storage account accepts TLS versions below 1.2",
         severity=Severity.MEDIUM, cwe="CWE-326",
         controls=("CIS-AZURE-3.15", "NIST-800-53:SC-8", "NIST-800-53:SC-13"),
         rationale="TLS 1.0 and 1.1 have known weaknesses and are being retired by Azure.",
         fix='Set min_tls_version = "TLS1_2" (the default since azurerm 3.0).',
         bad='resource "azurerm_storage_account" "a" { min_tls_version = "TLS1_0" }',
         good='resource "azurerm_storage_account" "a" { min_tls_version = "TLS1_2" }',
         aliases=("CKV_AZURE_44", "AVD-AZU-0011")),
    rule(id="iac.azure.storage-https-only",
         title="Storage account accepts plain HTTP",
         severity=Severity.MEDIUM, cwe="CWE-319",
         controls=("CIS-AZURE-3.1", "NIST-800-53:SC-8"),
         rationale="Without secure transfer required, data and shared keys/SAS tokens can cross "
                   "the network in clear text.",
         fix="Leave https_traffic_only_enabled (4.x) / enable_https_traffic_only (3.x) at true.",
         bad='resource "azurerm_storage_account" "a" { https_traffic_only_enabled = false }',
         good='resource "azurerm_storage_account" "a" { https_traffic_only_enabled = true }',
         aliases=("CKV_AZURE_3", "AVD-AZU-0008")),
    rule(id="iac.azure.storage-network-default-allow",
         title="Storage account network rules allow all networks by default",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("CIS-AZURE-3.8", "NIST-800-53:SC-7", "NIST-800-53:AC-4"),
         rationale="With default_action Allow (or no network rules and public network access "
                   "on), the account endpoints accept connections from any network.",
         fix='Set network_rules { default_action = "Deny" } (or a separate '
             "azurerm_storage_account_network_rules) and allow only the networks needed, or "
             "public_network_access_enabled = false.",
         bad='network_rules { default_action = "Allow" }',
         good='network_rules {\n'
              '  default_action = "Deny"\n'
              '  ip_rules       = ["203.0.113.0/24"]\n'
              '}',
         aliases=("CKV_AZURE_35", "CKV_AZURE_59", "AVD-AZU-0012")),
    rule(id="iac.azure.keyvault-not-recoverable",
         title="Key vault can be purged (purge protection or soft delete off)",
         severity=Severity.MEDIUM, cwe="CWE-693",
         controls=("CIS-AZURE-8.5", "NIST-800-53:CP-9", "NIST-800-53:SC-12"),
         rationale="Without purge protection a deleted vault and its keys can be destroyed at "
                   "once, by mistake or by an attacker, making encrypted data unrecoverable.",
         fix="Set purge_protection_enabled = true and keep soft delete on.",
         bad='resource "azurerm_key_vault" "v" { purge_protection_enabled = false }',
         good='resource "azurerm_key_vault" "v" { purge_protection_enabled = true }',
         aliases=("CKV_AZURE_110", "CKV_AZURE_111", "CKV_AZURE_42", "AVD-AZU-0016")),
    rule(id="iac.azure.keyvault-network-open",
         title="Key vault accepts connections from all networks",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("CIS-AZURE-8.7", "NIST-800-53:SC-7"),
         rationale="A vault without network ACLs (or with default_action Allow) is reachable "
                   "from the whole internet; only its authentication protects it.",
         fix='Add network_acls { default_action = "Deny" bypass = "AzureServices" } with the '
             "networks needed, or public_network_access_enabled = false.",
         bad='network_acls {\n'
             '  default_action = "Allow"\n'
             '  bypass         = "AzureServices"\n'
             '}',
         good='network_acls {\n'
              '  default_action = "Deny"\n'
              '  bypass         = "AzureServices"\n'
              '}',
         aliases=("CKV_AZURE_109", "CKV_AZURE_189", "AVD-AZU-0013")),
    rule(id="iac.azure.keyvault-secret-no-expiry",
         title="Key vault secret has no expiration date",
         severity=Severity.LOW, cwe="CWE-324",
         controls=("CIS-AZURE-8.3", "CIS-AZURE-8.4", "NIST-800-53:IA-5"),
         rationale="Secrets without an expiry are never forced to rotate.",
         fix="Set expiration_date and rotate the secret before it.",
         bad='resource "azurerm_key_vault_secret" "s" { name = "db" }',
         good='resource "azurerm_key_vault_secret" "s" { '
              'expiration_date = "2027-01-01T00:00:00Z" }',
         aliases=("CKV_AZURE_41", "AVD-AZU-0017")),
    rule(id="iac.azure.keyvault-key-no-expiry",
         title="Key vault key has no expiration date",
         severity=Severity.LOW, cwe="CWE-324",
         controls=("CIS-AZURE-8.1", "CIS-AZURE-8.2", "NIST-800-53:SC-12"),
         rationale="Keys without an expiry are never forced to rotate.",
         fix="Set expiration_date (or a rotation_policy with expire_after).",
         bad='resource "azurerm_key_vault_key" "k" { key_type = "RSA" }',
         good='resource "azurerm_key_vault_key" "k" { expiration_date = "2027-01-01T00:00:00Z" }',
         aliases=("CKV_AZURE_40", "AVD-AZU-0014")),
    rule(id="iac.azure.nsg-ssh-open",
         title="Network security rule allows SSH from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-AZURE-6.2", "NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="Port 22 open to any address invites brute force and exploitation of the SSH "
                   "service.",
         fix="Restrict source_address_prefix(es) to known ranges, or use Azure Bastion / "
             "just-in-time access.",
         bad='security_rule {\n'
             '  direction              = "Inbound"\n'
             '  access                 = "Allow"\n'
             '  protocol               = "Tcp"\n'
             '  source_address_prefix  = "*"\n'
             '  destination_port_range = "22"\n'
             '}',
         good='security_rule {\n'
              '  direction              = "Inbound"\n'
              '  access                 = "Allow"\n'
              '  protocol               = "Tcp"\n'
              '  source_address_prefix  = "VirtualNetwork"\n'
              '  destination_port_range = "22"\n'
              '}',
         aliases=("CKV_AZURE_10", "AVD-AZU-0050", "AVD-AZU-0047")),
    rule(id="iac.azure.nsg-rdp-open",
         title="Network security rule allows RDP from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-AZURE-6.1", "NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="Port 3389 open to any address is a leading ransomware entry point.",
         fix="Restrict the source to known ranges, or use Azure Bastion / just-in-time access.",
         bad='security_rule {\n'
             '  direction              = "Inbound"\n'
             '  access                 = "Allow"\n'
             '  protocol               = "Tcp"\n'
             '  source_address_prefix  = "Internet"\n'
             '  destination_port_range = "3389"\n'
             '}',
         good='security_rule {\n'
              '  direction              = "Inbound"\n'
              '  access                 = "Allow"\n'
              '  protocol               = "Tcp"\n'
              '  source_address_prefix  = "10.0.0.0/8"\n'
              '  destination_port_range = "3389"\n'
              '}',
         aliases=("CKV_AZURE_9", "AVD-AZU-0048", "AVD-AZU-0047")),
    rule(id="iac.azure.nsg-all-ports-open",
         title="Network security rule allows every port from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-AZURE-6.1", "CIS-AZURE-6.2", "NIST-800-53:SC-7"),
         rationale="An inbound allow of all ports from anywhere exposes every service the "
                   "machines run, including SSH and RDP.",
         fix="Allow only the ports the service needs, from the sources that need them.",
         bad='security_rule {\n'
             '  direction              = "Inbound"\n'
             '  access                 = "Allow"\n'
             '  protocol               = "*"\n'
             '  source_address_prefix  = "*"\n'
             '  destination_port_range = "*"\n'
             '}',
         good='security_rule {\n'
              '  direction              = "Inbound"\n'
              '  access                 = "Allow"\n'
              '  protocol               = "Tcp"\n'
              '  source_address_prefix  = "*"\n'
              '  destination_port_range = "443"\n'
              '}',
         aliases=("AVD-AZU-0047", "CKV_AZURE_9", "CKV_AZURE_10")),
    rule(id="iac.azure.sql-public-network",
         title="Azure SQL server allows public network access",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-3"),
         rationale="public_network_access_enabled defaults to true: the server is reachable "
                   "from the internet, limited only by its firewall rules.",
         fix="Set public_network_access_enabled = false and connect through a private endpoint.",
         bad='resource "azurerm_mssql_server" "s" { public_network_access_enabled = true }',
         good='resource "azurerm_mssql_server" "s" { public_network_access_enabled = false }',
         aliases=("CKV_AZURE_113", "AVD-AZU-0022")),
    rule(id="iac.azure.db-firewall-open",
         title="Database firewall rule allows the whole internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-AZURE-4.1.2", "NIST-800-53:SC-7"),
         rationale="A firewall rule from 0.0.0.0 to 255.255.255.255 lets any address reach the "
                   "database login.",
         fix="Allow only the client ranges needed, or use private endpoints. (0.0.0.0 to 0.0.0.0 "
             "is Azure's 'allow Azure services' rule and is not this finding.)",
         bad='resource "azurerm_mssql_firewall_rule" "r" {\n'
             '  start_ip_address = "0.0.0.0"\n'
             '  end_ip_address   = "255.255.255.255"\n'
             '}',
         good='resource "azurerm_mssql_firewall_rule" "r" {\n'
              '  start_ip_address = "203.0.113.10"\n'
              '  end_ip_address   = "203.0.113.20"\n'
              '}',
         aliases=("CKV_AZURE_11", "CKV2_AZURE_34", "CKV2_AZURE_26", "AVD-AZU-0029")),
    rule(id="iac.azure.sql-auditing-disabled",
         title="Azure SQL server has no auditing policy",
         severity=Severity.MEDIUM, cwe="CWE-778",
         controls=("CIS-AZURE-4.1.1", "NIST-800-53:AU-2", "NIST-800-53:AU-12"),
         rationale="Without auditing there is no record of logins and queries to investigate "
                   "an incident with.",
         fix="Add azurerm_mssql_server_extended_auditing_policy for the server (or the inline "
             "extended_auditing_policy block of azurerm 2.x/3.x).",
         bad='resource "azurerm_mssql_server" "s" { }',
         good='resource "azurerm_mssql_server_extended_auditing_policy" "a" '
              "{ server_id = azurerm_mssql_server.s.id }",
         aliases=("CKV_AZURE_23", "AVD-AZU-0027"), confidence=Confidence.MEDIUM),
    rule(id="iac.azure.db-min-tls",
         title="Database server accepts TLS versions below 1.2",
         severity=Severity.MEDIUM, cwe="CWE-326",
         controls=("CIS-AZURE-4.4.2", "NIST-800-53:SC-8", "NIST-800-53:SC-13"),
         rationale="TLS 1.0/1.1 (or no minimum) allows weak protocol versions for database "
                   "connections.",
         fix='Set minimum_tls_version = "1.2" (SQL) or ssl_minimal_tls_version_enforced = '
             '"TLS1_2" (PostgreSQL/MySQL/MariaDB single server).',
         bad='resource "azurerm_mssql_server" "s" { minimum_tls_version = "1.0" }',
         good='resource "azurerm_mssql_server" "s" { minimum_tls_version = "1.2" }',
         aliases=("CKV_AZURE_52", "CKV_AZURE_54", "CKV_AZURE_147", "AVD-AZU-0026")),
    rule(id="iac.azure.db-ssl-disabled",
         title="Database server does not require encrypted connections",
         severity=Severity.HIGH, cwe="CWE-319",
         controls=("CIS-AZURE-4.3.1", "CIS-AZURE-4.4.1", "NIST-800-53:SC-8"),
         rationale="Without enforced SSL, credentials and data can travel in clear text.",
         fix="Set ssl_enforcement_enabled = true (single server) or keep the flexible server's "
             "require_secure_transport parameter ON.",
         bad='resource "azurerm_postgresql_server" "p" { ssl_enforcement_enabled = false }',
         good='resource "azurerm_postgresql_server" "p" { ssl_enforcement_enabled = true }',
         aliases=("CKV_AZURE_28", "CKV_AZURE_29", "CKV_AZURE_47", "AVD-AZU-0020")),
    rule(id="iac.azure.db-public-network",
         title="PostgreSQL/MySQL/MariaDB server allows public network access",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-3"),
         rationale="Public network access (the default) exposes the server endpoint to the "
                   "internet, limited only by firewall rules.",
         fix="Set public_network_access_enabled = false, or give a flexible server a "
             "delegated_subnet_id (VNet integration).",
         bad='resource "azurerm_postgresql_flexible_server" "p" { public_network_access_enabled '
             "= true }",
         good='resource "azurerm_postgresql_flexible_server" "p" {\n'
              '  delegated_subnet_id           = azurerm_subnet.db.id\n'
              '  public_network_access_enabled = false\n'
              '}',
         aliases=("CKV_AZURE_68", "CKV_AZURE_53", "CKV_AZURE_48", "AVD-AZU-0022")),
    rule(id="iac.azure.aks-rbac-disabled",
         title="AKS cluster has Kubernetes RBAC disabled",
         severity=Severity.HIGH, cwe="CWE-285",
         controls=("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
         rationale="Without RBAC every authenticated identity has full access to the cluster API.",
         fix="Keep role_based_access_control_enabled = true (the default) and prefer Entra ID "
             "integration with azure_rbac_enabled.",
         bad='resource "azurerm_kubernetes_cluster" "k" { role_based_access_control_enabled = '
             "false }",
         good='resource "azurerm_kubernetes_cluster" "k" { role_based_access_control_enabled = '
              "true }",
         aliases=("CKV_AZURE_5", "AVD-AZU-0042")),
    rule(id="iac.azure.aks-api-open",
         title="AKS API server is public without authorized IP ranges",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="A public API server reachable from any address is exposed to credential "
                   "attacks and API vulnerabilities.",
         fix="Set api_server_access_profile { authorized_ip_ranges = [...] } (3.x: "
             "api_server_authorized_ip_ranges) or private_cluster_enabled = true.",
         bad='resource "azurerm_kubernetes_cluster" "k" { private_cluster_enabled = false }',
         good='api_server_access_profile { authorized_ip_ranges = ["203.0.113.0/24"] }',
         aliases=("CKV_AZURE_6", "CKV_AZURE_115", "AVD-AZU-0041", "AVD-AZU-0065")),
    rule(id="iac.azure.aks-network-policy",
         title="AKS cluster has no network policy",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-4"),
         rationale="Without a network policy engine every pod can reach every other pod; "
                   "NetworkPolicy objects are silently ignored.",
         fix='Set network_profile { network_policy = "azure" | "calico" | "cilium" }.',
         bad='network_profile { network_plugin = "azure" }',
         good='network_profile {\n'
              '  network_plugin = "azure"\n'
              '  network_policy = "azure"\n'
              '}',
         aliases=("CKV_AZURE_7", "AVD-AZU-0043")),
    rule(id="iac.azure.aks-local-accounts",
         title="AKS cluster keeps local admin accounts",
         severity=Severity.MEDIUM, cwe="CWE-287",
         controls=("NIST-800-53:AC-2", "NIST-800-53:IA-2"),
         rationale="The local cluster-admin kubeconfig bypasses Entra ID, conditional access "
                   "and audit of who did what.",
         fix="Set local_account_disabled = true with Entra ID integration.",
         bad='resource "azurerm_kubernetes_cluster" "k" { local_account_disabled = false }',
         good='resource "azurerm_kubernetes_cluster" "k" { local_account_disabled = true }',
         aliases=("CKV_AZURE_141",)),
    rule(id="iac.azure.vm-password-auth",
         title="Linux virtual machine allows password authentication",
         severity=Severity.MEDIUM, cwe="CWE-308",
         controls=("NIST-800-53:IA-2", "NIST-800-53:IA-5"),
         rationale="Password logins over SSH can be brute-forced; keys cannot.",
         fix="Set disable_password_authentication = true and configure admin_ssh_key.",
         bad='resource "azurerm_linux_virtual_machine" "vm" { disable_password_authentication '
             "= false }",
         good='resource "azurerm_linux_virtual_machine" "vm" { disable_password_authentication '
              "= true }",
         aliases=("CKV_AZURE_1", "CKV_AZURE_149", "CKV_AZURE_178", "AVD-AZU-0039")),
    rule(id="iac.azure.disk-encryption-disabled",
         title="Managed disk has Azure Disk Encryption explicitly disabled",
         severity=Severity.LOW, cwe="CWE-311",
         controls=("NIST-800-53:SC-28",),
         rationale="The disk's encryption_settings turn encryption off.",
         fix="Remove encryption_settings { enabled = false } or use a disk_encryption_set_id.",
         bad="encryption_settings { enabled = false }",
         good='resource "azurerm_managed_disk" "d" { disk_encryption_set_id = '
              "azurerm_disk_encryption_set.e.id }",
         aliases=("CKV_AZURE_2", "AVD-AZU-0038")),
    rule(id="iac.azure.appservice-https-only",
         title="App Service / Function App accepts plain HTTP",
         severity=Severity.MEDIUM, cwe="CWE-319",
         controls=("CIS-AZURE-9.2", "NIST-800-53:SC-8"),
         rationale="https_only defaults to false: the app answers on HTTP, exposing sessions and "
                   "data in transit.",
         fix="Set https_only = true.",
         bad='resource "azurerm_linux_web_app" "w" { https_only = false }',
         good='resource "azurerm_linux_web_app" "w" { https_only = true }',
         aliases=("CKV_AZURE_14", "CKV_AZURE_70", "CKV_AZURE_153", "AVD-AZU-0072",
                  "AVD-AZU-0004")),
    rule(id="iac.azure.appservice-min-tls",
         title="App Service / Function App accepts TLS below 1.2",
         severity=Severity.MEDIUM, cwe="CWE-326",
         controls=("CIS-AZURE-9.3", "NIST-800-53:SC-8", "NIST-800-53:SC-13"),
         rationale="TLS 1.0/1.1 have known weaknesses.",
         fix='Set site_config { minimum_tls_version = "1.2" } (min_tls_version on the legacy '
             "azurerm_app_service).",
         bad='site_config { minimum_tls_version = "1.0" }',
         good='site_config { minimum_tls_version = "1.2" }',
         aliases=("CKV_AZURE_15", "CKV_AZURE_145", "CKV_AZURE_154", "AVD-AZU-0006")),
    rule(id="iac.azure.appservice-ftp",
         title="App Service allows unencrypted FTP deployments",
         severity=Severity.MEDIUM, cwe="CWE-319",
         controls=("CIS-AZURE-9.10", "NIST-800-53:SC-8"),
         rationale="ftps_state AllAllowed lets deployment credentials and code travel over "
                   "plain FTP.",
         fix='Set site_config { ftps_state = "Disabled" } (or "FtpsOnly").',
         bad='site_config { ftps_state = "AllAllowed" }',
         good='site_config { ftps_state = "Disabled" }',
         aliases=("CKV_AZURE_78", "AVD-AZU-0071")),
    rule(id="iac.azure.acr-admin-enabled",
         title="Container registry admin account is enabled",
         severity=Severity.MEDIUM, cwe="CWE-798",
         controls=("NIST-800-53:AC-2", "NIST-800-53:IA-2"),
         rationale="The admin user is a shared username/password with push rights, not tied to "
                   "an identity and easy to leak.",
         fix="Set admin_enabled = false and use Entra ID identities or scoped tokens.",
         bad='resource "azurerm_container_registry" "r" { admin_enabled = true }',
         good='resource "azurerm_container_registry" "r" { admin_enabled = false }',
         aliases=("CKV_AZURE_137",)),
    rule(id="iac.azure.acr-public-network",
         title="Container registry allows public network access",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("NIST-800-53:SC-7",),
         rationale="A registry reachable from any network exposes images and its login endpoint.",
         fix="Set public_network_access_enabled = false (Premium SKU) and use private endpoints, "
             'or network_rule_set { default_action = "Deny" }.',
         bad='resource "azurerm_container_registry" "r" { public_network_access_enabled = true }',
         good='resource "azurerm_container_registry" "r" { public_network_access_enabled = false }',
         aliases=("CKV_AZURE_139",)),
    rule(id="iac.azure.ml-workspace-public",
         title="Azure ML workspace allows public network access",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-3"),
         rationale="A public workspace exposes models, datasets and compute endpoints to the "
                   "internet (worse when it is flagged high business impact).",
         fix="Set public_network_access_enabled = false and use private endpoints.",
         bad='resource "azurerm_machine_learning_workspace" "w" { public_network_access_enabled '
             "= true }",
         good='resource "azurerm_machine_learning_workspace" "w" { public_network_access_enabled '
              "= false }",
         aliases=("CKV_AZURE_144", "CKV2_AZURE_49")),
    rule(id="iac.azure.cognitive-public-network",
         title="Cognitive Services / Azure OpenAI account allows public network access",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-3"),
         rationale="The account's endpoint (and its models and data) is reachable from any "
                   "network unless access is disabled or network ACLs deny by default.",
         fix='Set public_network_access_enabled = false, or network_acls { default_action = '
             '"Deny" } with the networks needed.',
         bad='resource "azurerm_cognitive_account" "ai" { kind = "OpenAI" }',
         good='resource "azurerm_cognitive_account" "ai" {\n'
              '  kind                          = "OpenAI"\n'
              '  public_network_access_enabled = false\n'
              '}',
         aliases=("CKV_AZURE_134",)),
    rule(id="iac.azure.cognitive-local-auth",
         title="Cognitive Services / Azure OpenAI account allows API-key authentication",
         severity=Severity.MEDIUM, cwe="CWE-287",
         controls=("NIST-800-53:IA-2", "NIST-800-53:IA-5"),
         rationale="Local (key) authentication is on by default: a leaked key gives full use of "
                   "the account with no identity attached.",
         fix="Set local_auth_enabled = false and use Entra ID (managed identities).",
         bad='resource "azurerm_cognitive_account" "ai" { local_auth_enabled = true }',
         good='resource "azurerm_cognitive_account" "ai" { local_auth_enabled = false }',
         aliases=("CKV_AZURE_236",)),
])


# --------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------

def check_storage_account(model: TfModel) -> Found:
    for res in model.of_type(_STORAGE):
        body = res.body
        yield from _storage_public_blob(res)
        tls = text(body, "min_tls_version")
        if isinstance(tls, Unresolved):
            yield unresolved("iac.azure.storage-min-tls", res, body, "min_tls_version", tls)
        elif tls is not None and tls.strip().upper() in ("TLS1_0", "TLS1_1"):
            yield hit("iac.azure.storage-min-tls", res, body, "min_tls_version",
                      f"min_tls_version is {show(tls)}", evidence=f"min_tls_version = {show(tls)}")
        for name in ("https_traffic_only_enabled", "enable_https_traffic_only"):
            value = flag(body, name, None)
            if isinstance(value, Unresolved):
                yield unresolved("iac.azure.storage-https-only", res, body, name, value)
            elif value is False:
                yield hit("iac.azure.storage-https-only", res, body, name,
                          f"{name} is false", evidence=f"{name} = false")
        yield from _storage_network(model, res)


def _storage_public_blob(res: TfResource) -> Found:
    rid = "iac.azure.storage-public-blob-access"
    body = res.body
    for name in ("allow_nested_items_to_be_public", "allow_blob_public_access"):
        if not body.has(name):
            continue
        value = flag(body, name)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, body, name, value)
        elif value:
            yield hit(rid, res, body, name, f"{name} is true", evidence=f"{name} = true")
        return
    # Neither written: azurerm >= 3.0 sends allow_nested_items_to_be_public = true.
    yield hit(rid, res, body, "allow_nested_items_to_be_public",
              "allow_nested_items_to_be_public is not set (azurerm 3.x/4.x default true)",
              confidence=Confidence.MEDIUM)


def _storage_network(model: TfModel, res: TfResource) -> Found:
    rid = "iac.azure.storage-network-default-allow"
    body = res.body
    public = flag(body, "public_network_access_enabled", True)
    if public is False:
        return
    separate = (model.referencing(res, ["azurerm_storage_account_network_rules"],
                                  "storage_account_id")
                + model.referencing(res, ["azurerm_storage_account_network_rules"],
                                    "storage_account_name"))
    inline = sub_blocks(body, "network_rules")
    for block in inline:
        yield from _network_rules(rid, res, block)
    if not inline and not separate:
        if isinstance(public, Unresolved):
            yield unresolved(rid, res, body, "public_network_access_enabled", public)
            return
        yield hit(rid, res, body, "public_network_access_enabled",
                  "no network_rules and public network access enabled (default): all networks "
                  "are allowed", severity=Severity.LOW, confidence=Confidence.MEDIUM)


def _network_rules(rid: str, res: TfResource, block: TfBlock) -> Found:
    action = lower(text(block, "default_action"))
    if isinstance(action, Unresolved):
        yield unresolved(rid, res, block, "default_action", action)
    elif action == "allow":
        yield hit(rid, res, block, "default_action", 'network rules default_action is "Allow"',
                  evidence='default_action = "Allow"')
    else:
        yield from _open_ip_rules(rid, res, block)


def check_storage_network_rules(model: TfModel) -> Found:
    """``azurerm_storage_account_network_rules`` on its own (its account may live elsewhere)."""
    for res in model.of_type("azurerm_storage_account_network_rules"):
        yield from _network_rules("iac.azure.storage-network-default-allow", res, res.body)


def _open_ip_rules(rid: str, res: TfResource, block: TfBlock) -> Found:
    """A deny-by-default rule set whose ip_rules let the whole internet back in."""
    rules = items(block, "ip_rules")
    if isinstance(rules, Unresolved):
        return  # the default still denies; an unknown allow-list is not exposure by itself
    wide = next((r for r in rules if isinstance(r, str) and is_public_cidr(r)), None)
    if wide is not None:
        yield hit(rid, res, block, "ip_rules", f"ip_rules allow {show(wide)}",
                  evidence=f"ip_rules = {show(rules)}")


def check_storage_container(model: TfModel) -> Found:
    rid = "iac.azure.storage-container-public"
    for res in model.of_type("azurerm_storage_container"):
        access = lower(text(res.body, "container_access_type", "private"))
        if isinstance(access, Unresolved):
            yield unresolved(rid, res, res.body, "container_access_type", access)
        elif access in ("blob", "container"):
            yield hit(rid, res, res.body, "container_access_type",
                      f"container_access_type is {show(access)}",
                      evidence=f"container_access_type = {show(access)}")


# --------------------------------------------------------------------------------------------
# Key Vault
# --------------------------------------------------------------------------------------------

def check_key_vault(model: TfModel) -> Found:
    for res in model.of_type("azurerm_key_vault"):
        body = res.body
        rid = "iac.azure.keyvault-not-recoverable"
        purge = flag(body, "purge_protection_enabled", False)
        if isinstance(purge, Unresolved):
            yield unresolved(rid, res, body, "purge_protection_enabled", purge)
        elif purge is False:
            said = "is false" if body.has("purge_protection_enabled") else \
                "is not set (default false)"
            yield hit(rid, res, body, "purge_protection_enabled",
                      f"purge_protection_enabled {said}")
        soft = flag(body, "soft_delete_enabled", True)
        if isinstance(soft, Unresolved):
            yield unresolved(rid, res, body, "soft_delete_enabled", soft)
        elif soft is False:
            yield hit(rid, res, body, "soft_delete_enabled", "soft_delete_enabled is false",
                      evidence="soft_delete_enabled = false")
        yield from _key_vault_network(res)


def _key_vault_network(res: TfResource) -> Found:
    rid = "iac.azure.keyvault-network-open"
    body = res.body
    public = flag(body, "public_network_access_enabled", True)
    if public is False:
        return
    acls = sub_blocks(body, "network_acls")
    for block in acls:
        action = lower(text(block, "default_action"))
        if isinstance(action, Unresolved):
            yield unresolved(rid, res, block, "default_action", action)
        elif action == "allow":
            yield hit(rid, res, block, "default_action", 'network_acls default_action is "Allow"',
                      evidence='default_action = "Allow"')
        else:
            yield from _open_ip_rules(rid, res, block)
    if not acls:
        if isinstance(public, Unresolved):
            yield unresolved(rid, res, body, "public_network_access_enabled", public)
            return
        yield hit(rid, res, body, "network_acls",
                  "no network_acls and public network access enabled (default): all networks "
                  "are allowed", confidence=Confidence.MEDIUM)


def check_key_vault_expiry(model: TfModel) -> Found:
    for kind, rid in (("azurerm_key_vault_secret", "iac.azure.keyvault-secret-no-expiry"),
                      ("azurerm_key_vault_key", "iac.azure.keyvault-key-no-expiry")):
        for res in model.of_type(kind):
            body = res.body
            if body.has("expiration_date"):
                value = body.get("expiration_date")
                if value is None or value == "":
                    yield hit(rid, res, body, "expiration_date", "expiration_date is empty")
                continue
            policy = sub_block(body, "rotation_policy")
            if policy is not None and policy.has("expire_after"):
                continue
            kind_word = "secret" if kind.endswith("secret") else "key"
            yield hit(rid, res, body, "name", f"{kind_word} has no expiration_date")


# --------------------------------------------------------------------------------------------
# Network security groups
# --------------------------------------------------------------------------------------------

def _nsg_rules(model: TfModel) -> Iterator[tuple[TfResource, TfBlock]]:
    for res in model.of_type("azurerm_network_security_group"):
        for block in sub_blocks(res.body, "security_rule"):
            yield res, block
    for res in model.of_type("azurerm_network_security_rule"):
        yield res, res.body


_SSH = "iac.azure.nsg-ssh-open"
_RDP = "iac.azure.nsg-rdp-open"
_ALL = "iac.azure.nsg-all-ports-open"


def check_nsg(model: TfModel) -> Found:
    for res, block in _nsg_rules(model):
        yield from _nsg_rule(res, block)


def _nsg_rule(res: TfResource, block: TfBlock) -> Found:
    name = text(block, "name")
    label = f'security rule "{name}"' if isinstance(name, str) else "security rule"
    # Inbound and Allow: anything else is not exposure.
    for attr, wanted in (("direction", "inbound"), ("access", "allow")):
        value = lower(text(block, attr))
        if isinstance(value, Unresolved):
            if _nsg_might_expose(block):
                yield unresolved(_ALL, res, block, attr, value)
            return
        if value != wanted:
            return
    given = lower(text(block, "protocol", "*"))
    protocol = given if isinstance(given, str) else "*"
    if protocol in ("icmp", "ah", "esp"):
        return
    sources = _prefixes(block, "source_address_prefix", "source_address_prefixes")
    public = any_public(sources)
    if public is False:
        return
    spans, unknown_port = _port_spans(block)
    if isinstance(public, Unresolved):
        exposed = _ALL if unknown_port is not None else _exposed_rule(spans, protocol)
        if exposed is not None:
            attr = "source_address_prefix" if block.has("source_address_prefix") else \
                "source_address_prefixes"
            yield unresolved(exposed, res, block, attr, public)
        return
    shown = show(_first_public(sources))
    port_attr = "destination_port_range" if block.has("destination_port_range") else \
        "destination_port_ranges"
    if unknown_port is not None and not spans:
        yield unresolved(_ALL, res, block, port_attr, unknown_port)
        return
    if any(is_all_ports(s) for s in spans):
        yield hit(_ALL, res, block, port_attr,
                  f"{label} allows inbound {_proto(protocol)} on all ports from {shown}",
                  evidence=f"{port_attr} = {show(block.get(port_attr, '*'))}")
        return
    for port, rid in ((22, _SSH), (3389, _RDP)):
        proto_ok = ("tcp", "*", "any")  # both need TCP (RDP's UDP transport follows a TCP one)
        if protocol in proto_ok and any(covers(s, port) for s in spans):
            yield hit(rid, res, block, port_attr,
                      f"{label} allows inbound port {port} from {shown}",
                      evidence=f"{port_attr} = {show(block.get(port_attr))}")


def _exposed_rule(spans: list[tuple[int, int]], protocol: str) -> str | None:
    """The rule an internet source would break with these ports (None: harmless ports)."""
    if any(is_all_ports(s) for s in spans):
        return _ALL
    if protocol in ("tcp", "*", "any") and any(covers(s, 22) for s in spans):
        return _SSH
    if protocol in ("tcp", "*", "any") and any(covers(s, 3389) for s in spans):
        return _RDP
    return None


def _proto(protocol: str) -> str:
    return "traffic" if protocol in ("*", "any") else protocol.upper()


def _prefixes(block: TfBlock, one: str, many: str) -> list[Any] | Unresolved:
    out: list[Any] = []
    for name in (one, many):
        value = items(block, name)
        if isinstance(value, Unresolved):
            return value
        out.extend(value)
    return out


def _first_public(values: list[Any] | Unresolved) -> Any:
    if isinstance(values, list):
        for value in values:
            if isinstance(value, str) and is_public_cidr(value):
                return value
    return values


def _port_spans(block: TfBlock) -> tuple[list[tuple[int, int]], Unresolved | None]:
    spans: list[tuple[int, int]] = []
    unknown: Unresolved | None = None
    written = False
    for name in ("destination_port_range", "destination_port_ranges"):
        value = items(block, name)
        if isinstance(value, Unresolved):
            unknown = value
            continue
        for spec in value:
            written = True
            span = port_range(spec)
            if span is None:
                unknown = unknown or as_unresolved(spec, "not a port or port range")
            else:
                spans.append(span)
    if not written and unknown is None:
        spans.append(ALL_PORTS)  # neither written: Azure requires one; treat as any
    return spans, unknown


def _nsg_might_expose(block: TfBlock) -> bool:
    public = any_public(_prefixes(block, "source_address_prefix", "source_address_prefixes"))
    if public is False:
        return False
    spans, unknown = _port_spans(block)
    return unknown is not None or any(
        is_all_ports(s) or covers(s, 22) or covers(s, 3389) for s in spans)


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------

_SQL_SERVERS = ("azurerm_mssql_server", "azurerm_sql_server")
_SINGLE_SERVERS = ("azurerm_postgresql_server", "azurerm_mysql_server", "azurerm_mariadb_server")
_FLEX_SERVERS = ("azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server")
_FIREWALL_RULES = ("azurerm_mssql_firewall_rule", "azurerm_sql_firewall_rule",
                   "azurerm_postgresql_firewall_rule", "azurerm_mysql_firewall_rule",
                   "azurerm_mariadb_firewall_rule",
                   "azurerm_postgresql_flexible_server_firewall_rule",
                   "azurerm_mysql_flexible_server_firewall_rule", "azurerm_synapse_firewall_rule")
_AUDIT_POLICIES = ("azurerm_mssql_server_extended_auditing_policy",)


def check_sql_server(model: TfModel) -> Found:
    for res in model.of_type(*_SQL_SERVERS):
        body = res.body
        yield from _public_network(res, "iac.azure.sql-public-network")
        tls = text(body, "minimum_tls_version")
        if isinstance(tls, Unresolved):
            yield unresolved("iac.azure.db-min-tls", res, body, "minimum_tls_version", tls)
        elif tls is not None and tls.strip().lower() in ("1.0", "1.1", "disabled"):
            yield hit("iac.azure.db-min-tls", res, body, "minimum_tls_version",
                      f"minimum_tls_version is {show(tls)}",
                      evidence=f"minimum_tls_version = {show(tls)}")
        yield from _sql_auditing(model, res)


def _sql_auditing(model: TfModel, res: TfResource) -> Found:
    rid = "iac.azure.sql-auditing-disabled"
    inline = sub_blocks(res.body, "extended_auditing_policy")
    policies = model.referencing(res, _AUDIT_POLICIES, "server_id")
    found = [(res, b) for b in inline] + [(p, p.body) for p in policies]
    if not found:
        yield hit(rid, res, res.body, "name", "no extended auditing policy references this server")
        return
    states = [flag(block, "enabled", True) for _, block in found]
    if any(state is True for state in states):
        return
    for (owner, block), state in zip(found, states, strict=True):
        if isinstance(state, Unresolved):
            yield unresolved(rid, owner, block, "enabled", state)
            return
    owner, block = found[0]
    yield hit(rid, owner, block, "enabled", "auditing policy has enabled = false",
              confidence=Confidence.HIGH)


def _public_network(res: TfResource, rid: str) -> Found:
    body = res.body
    value = flag(body, "public_network_access_enabled", True)
    if isinstance(value, Unresolved):
        yield unresolved(rid, res, body, "public_network_access_enabled", value)
    elif value:
        if body.has("public_network_access_enabled"):
            yield hit(rid, res, body, "public_network_access_enabled",
                      "public_network_access_enabled is true",
                      evidence="public_network_access_enabled = true")
        else:
            yield hit(rid, res, body, "public_network_access_enabled",
                      "public_network_access_enabled is not set (default true)",
                      confidence=Confidence.MEDIUM)


def check_db_servers(model: TfModel) -> Found:
    for res in model.of_type(*_SINGLE_SERVERS):
        body = res.body
        yield from _public_network(res, "iac.azure.db-public-network")
        ssl = flag(body, "ssl_enforcement_enabled", None)
        if isinstance(ssl, Unresolved):
            yield unresolved("iac.azure.db-ssl-disabled", res, body, "ssl_enforcement_enabled",
                             ssl)
        elif ssl is False:
            yield hit("iac.azure.db-ssl-disabled", res, body, "ssl_enforcement_enabled",
                      "ssl_enforcement_enabled is false",
                      evidence="ssl_enforcement_enabled = false")
        tls = text(body, "ssl_minimal_tls_version_enforced")
        if isinstance(tls, Unresolved):
            yield unresolved("iac.azure.db-min-tls", res, body,
                             "ssl_minimal_tls_version_enforced", tls)
        elif tls is not None and tls.strip().upper() in ("TLS1_0", "TLS1_1",
                                                         "TLSENFORCEMENTDISABLED"):
            yield hit("iac.azure.db-min-tls", res, body, "ssl_minimal_tls_version_enforced",
                      f"ssl_minimal_tls_version_enforced is {show(tls)}")
    for res in model.of_type(*_FLEX_SERVERS):
        yield from _flex_public(res)
    yield from _flex_ssl(model)


def _flex_public(res: TfResource) -> Found:
    rid = "iac.azure.db-public-network"
    body = res.body
    value = flag(body, "public_network_access_enabled", None)
    if isinstance(value, Unresolved):
        yield unresolved(rid, res, body, "public_network_access_enabled", value)
    elif value is True:
        yield hit(rid, res, body, "public_network_access_enabled",
                  "public_network_access_enabled is true",
                  evidence="public_network_access_enabled = true")
    elif value is None and not body.has("delegated_subnet_id"):
        # 4.x default true; 3.x public unless VNet-integrated.
        yield hit(rid, res, body, "name",
                  "no delegated_subnet_id and public_network_access_enabled not set: the "
                  "server gets a public endpoint", confidence=Confidence.MEDIUM)


def _flex_ssl(model: TfModel) -> Found:
    rid = "iac.azure.db-ssl-disabled"
    for res in model.of_type("azurerm_postgresql_flexible_server_configuration",
                             "azurerm_mysql_flexible_server_configuration"):
        name = lower(text(res.body, "name"))
        if name != "require_secure_transport":
            continue
        value = lower(text(res.body, "value"))
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, res.body, "value", value)
        elif value in ("off", "false", "0"):
            yield hit(rid, res, res.body, "value", f"require_secure_transport is {show(value)}",
                      evidence=f"value = {show(value)}")


def check_db_firewall(model: TfModel) -> Found:
    rid = "iac.azure.db-firewall-open"
    for res in model.of_type(*_FIREWALL_RULES):
        start, end = text(res.body, "start_ip_address"), text(res.body, "end_ip_address")
        for attr, value in (("start_ip_address", start), ("end_ip_address", end)):
            if isinstance(value, Unresolved):
                yield unresolved(rid, res, res.body, attr, value)
                break
        else:
            if not isinstance(start, str) or not isinstance(end, str):
                continue
            size = _range_size(start, end)
            if size is not None and size >= 1 << 31:
                yield hit(rid, res, res.body, "end_ip_address",
                          f"firewall rule allows {start} to {end}",
                          evidence=f"start_ip_address = {show(start)} end_ip_address = {show(end)}")


def _range_size(start: str, end: str) -> int | None:
    try:
        first = int(ipaddress.IPv4Address(start.strip()))
        last = int(ipaddress.IPv4Address(end.strip()))
    except ValueError:
        return None
    return last - first + 1 if last >= first else None


# --------------------------------------------------------------------------------------------
# AKS
# --------------------------------------------------------------------------------------------

def check_aks(model: TfModel) -> Found:
    for res in model.of_type("azurerm_kubernetes_cluster"):
        yield from _aks_rbac(res)
        yield from _aks_api(res)
        yield from _aks_network_policy(res)
        rid = "iac.azure.aks-local-accounts"
        local_off = flag(res.body, "local_account_disabled", False)
        if isinstance(local_off, Unresolved):
            yield unresolved(rid, res, res.body, "local_account_disabled", local_off)
        elif local_off is False:
            said = "is false" if res.body.has("local_account_disabled") else \
                "is not set (default false)"
            yield hit(rid, res, res.body, "local_account_disabled",
                      f"local_account_disabled {said}: the local admin kubeconfig stays usable",
                      confidence=None if res.body.has("local_account_disabled")
                      else Confidence.MEDIUM)


def _aks_rbac(res: TfResource) -> Found:
    rid = "iac.azure.aks-rbac-disabled"
    body = res.body
    value = flag(body, "role_based_access_control_enabled", True)
    where, attr = body, "role_based_access_control_enabled"
    legacy = sub_block(body, "role_based_access_control")
    if legacy is not None and not body.has(attr):
        value, where, attr = flag(legacy, "enabled", True), legacy, "enabled"
    if isinstance(value, Unresolved):
        yield unresolved(rid, res, where, attr, value)
    elif value is False:
        yield hit(rid, res, where, attr, f"{attr} is false", evidence=f"{attr} = false")


def _aks_api(res: TfResource) -> Found:
    rid = "iac.azure.aks-api-open"
    body = res.body
    private = flag(body, "private_cluster_enabled", False)
    if private is True:
        return
    profile = sub_block(body, "api_server_access_profile")
    ranges: list[Any] | Unresolved = items(body, "api_server_authorized_ip_ranges")
    where, attr = body, "api_server_authorized_ip_ranges"
    if profile is not None and profile.has("authorized_ip_ranges"):
        ranges, where, attr = items(profile, "authorized_ip_ranges"), profile, \
            "authorized_ip_ranges"
    if isinstance(ranges, Unresolved):
        yield unresolved(rid, res, where, attr, ranges)
        return
    public = any_public(ranges)
    if isinstance(private, Unresolved) and (not ranges or public is True):
        yield unresolved(rid, res, body, "private_cluster_enabled", private)
        return
    if not ranges:
        yield hit(rid, res, body, "private_cluster_enabled" if body.has(
                  "private_cluster_enabled") else "name",
                  "public API server with no authorized IP ranges")
    elif public is True:
        yield hit(rid, res, where, attr,
                  f"{attr} includes {show(_first_public(ranges))}",
                  evidence=f"{attr} = {show(ranges)}")
    elif isinstance(public, Unresolved):
        yield unresolved(rid, res, where, attr, public)


def _aks_network_policy(res: TfResource) -> Found:
    rid = "iac.azure.aks-network-policy"
    profile = sub_block(res.body, "network_profile")
    policy = text(profile, "network_policy") if profile is not None else None
    if isinstance(policy, Unresolved):
        yield unresolved(rid, res, profile, "network_policy", policy)
    elif policy is None or policy.strip().lower() in ("", "none"):
        where = profile if profile is not None else res.body
        attr = "network_policy" if profile is not None and profile.has("network_policy") else \
            "network_profile"
        yield hit(rid, res, where, attr, "no network_policy in network_profile")


# --------------------------------------------------------------------------------------------
# Virtual machines and disks
# --------------------------------------------------------------------------------------------

def check_vm(model: TfModel) -> Found:
    rid = "iac.azure.vm-password-auth"
    for res in model.of_type("azurerm_linux_virtual_machine",
                             "azurerm_linux_virtual_machine_scale_set"):
        value = flag(res.body, "disable_password_authentication", True)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, res.body, "disable_password_authentication", value)
        elif value is False:
            yield hit(rid, res, res.body, "disable_password_authentication",
                      "disable_password_authentication is false",
                      evidence="disable_password_authentication = false")
    for res in model.of_type("azurerm_virtual_machine", "azurerm_virtual_machine_scale_set"):
        for block in sub_blocks(res.body, "os_profile_linux_config"):
            value = flag(block, "disable_password_authentication", None)
            if isinstance(value, Unresolved):
                yield unresolved(rid, res, block, "disable_password_authentication", value)
            elif value is False:
                yield hit(rid, res, block, "disable_password_authentication",
                          "os_profile_linux_config disable_password_authentication is false",
                          evidence="disable_password_authentication = false")


def check_managed_disk(model: TfModel) -> Found:
    rid = "iac.azure.disk-encryption-disabled"
    for res in model.of_type("azurerm_managed_disk"):
        for block in sub_blocks(res.body, "encryption_settings"):
            value = flag(block, "enabled", None)
            if isinstance(value, Unresolved):
                yield unresolved(rid, res, block, "enabled", value)
            elif value is False:
                yield hit(rid, res, block, "enabled", "encryption_settings enabled is false",
                          evidence="enabled = false")


# --------------------------------------------------------------------------------------------
# App Service and Functions
# --------------------------------------------------------------------------------------------

_APPS = ("azurerm_app_service", "azurerm_linux_web_app", "azurerm_windows_web_app",
         "azurerm_function_app", "azurerm_linux_function_app", "azurerm_windows_function_app",
         "azurerm_app_service_slot", "azurerm_linux_web_app_slot", "azurerm_windows_web_app_slot",
         "azurerm_function_app_slot", "azurerm_linux_function_app_slot",
         "azurerm_windows_function_app_slot")


_FTP_BY_DEFAULT = frozenset({"azurerm_app_service", "azurerm_app_service_slot",
                             "azurerm_function_app", "azurerm_function_app_slot"})
"""The legacy resources whose ``ftps_state`` defaults to ``AllAllowed`` (the 3.x
``*_web_app``/``*_function_app`` resources default to ``Disabled``)."""


def check_app_service(model: TfModel) -> Found:
    for res in model.of_type(*_APPS):
        body = res.body
        if res.type in _FTP_BY_DEFAULT:
            sites = sub_blocks(body, "site_config")
            if not any(site.has("ftps_state") or opaque(site) for site in sites):
                where = sites[0] if sites else body
                yield hit("iac.azure.appservice-ftp", res, where,
                          "ftps_state" if sites else "site_config",
                          "site_config ftps_state is not set (default \"AllAllowed\" on "
                          f"{res.type})", confidence=Confidence.MEDIUM)
        rid = "iac.azure.appservice-https-only"
        value = flag(body, "https_only", False)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, body, "https_only", value)
        elif value is False:
            written = body.has("https_only")
            yield hit(rid, res, body, "https_only",
                      "https_only is false" if written else "https_only is not set (default false)")
        for site in sub_blocks(body, "site_config"):
            yield from _site_config(res, site)


def _site_config(res: TfResource, site: TfBlock) -> Found:
    rid = "iac.azure.appservice-min-tls"
    for attr in ("minimum_tls_version", "min_tls_version", "scm_minimum_tls_version"):
        tls = text(site, attr)
        if isinstance(tls, Unresolved):
            yield unresolved(rid, res, site, attr, tls)
        elif tls is not None and tls.strip() in ("1.0", "1.1"):
            yield hit(rid, res, site, attr, f"site_config {attr} is {show(tls)}",
                      evidence=f"{attr} = {show(tls)}")
    rid = "iac.azure.appservice-ftp"
    ftps = text(site, "ftps_state")
    if isinstance(ftps, Unresolved):
        yield unresolved(rid, res, site, "ftps_state", ftps)
    elif ftps is not None and ftps.strip().lower() == "allallowed":
        yield hit(rid, res, site, "ftps_state", 'site_config ftps_state is "AllAllowed"',
                  evidence='ftps_state = "AllAllowed"')


# --------------------------------------------------------------------------------------------
# Container registry, ML workspace, Cognitive Services
# --------------------------------------------------------------------------------------------

def check_registry(model: TfModel) -> Found:
    for res in model.of_type("azurerm_container_registry"):
        body = res.body
        rid = "iac.azure.acr-admin-enabled"
        admin = flag(body, "admin_enabled", False)
        if isinstance(admin, Unresolved):
            yield unresolved(rid, res, body, "admin_enabled", admin)
        elif admin:
            yield hit(rid, res, body, "admin_enabled", "admin_enabled is true",
                      evidence="admin_enabled = true")
        rules = sub_block(body, "network_rule_set")
        if rules is not None and lower(text(rules, "default_action")) == "deny":
            continue
        yield from _public_network(res, "iac.azure.acr-public-network")


def check_ml_workspace(model: TfModel) -> Found:
    rid = "iac.azure.ml-workspace-public"
    for res in model.of_type("azurerm_machine_learning_workspace"):
        body = res.body
        hbi = flag(body, "high_business_impact", False) is True
        severity = Severity.HIGH if hbi else None
        extra = " on a high-business-impact workspace" if hbi else ""
        value = flag(body, "public_network_access_enabled", None)
        attr = "public_network_access_enabled"
        if value is None and body.has("public_access_behind_virtual_network_enabled"):
            attr = "public_access_behind_virtual_network_enabled"
            value = flag(body, attr, None)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, body, attr, value)
        elif value is True:
            yield hit(rid, res, body, attr, f"{attr} is true{extra}", severity=severity,
                      evidence=f"{attr} = true")
        elif value is None:
            yield hit(rid, res, body, attr, f"{attr} is not set (default true){extra}",
                      severity=severity, confidence=Confidence.MEDIUM)


def check_cognitive(model: TfModel) -> Found:
    for res in model.of_type("azurerm_cognitive_account", "azurerm_ai_services"):
        body = res.body
        kind = text(body, "kind")
        what = "Azure OpenAI account" if isinstance(kind, str) and kind.lower() == "openai" \
            else "account"
        rid = "iac.azure.cognitive-public-network"
        public = flag(body, "public_network_access_enabled", True)
        acls = sub_block(body, "network_acls")
        denied = acls is not None and lower(text(acls, "default_action")) == "deny"
        if isinstance(public, Unresolved):
            if not denied:
                yield unresolved(rid, res, body, "public_network_access_enabled", public)
        elif public and not denied:
            written = body.has("public_network_access_enabled")
            yield hit(rid, res, body, "public_network_access_enabled",
                      f"{what} public_network_access_enabled is "
                      + ("true" if written else "not set (default true)")
                      + " and no network_acls deny by default",
                      confidence=None if written else Confidence.MEDIUM)
        rid = "iac.azure.cognitive-local-auth"
        local = flag(body, "local_auth_enabled", True)
        if isinstance(local, Unresolved):
            yield unresolved(rid, res, body, "local_auth_enabled", local)
        elif local:
            written = body.has("local_auth_enabled")
            yield hit(rid, res, body, "local_auth_enabled",
                      f"{what} local_auth_enabled is "
                      + ("true" if written else "not set (default true)"),
                      confidence=None if written else Confidence.MEDIUM)


CHECKS: list[Check] = [
    check_storage_account, check_storage_network_rules, check_storage_container, check_key_vault,
    check_key_vault_expiry,
    check_nsg, check_sql_server, check_db_servers, check_db_firewall, check_aks, check_vm,
    check_managed_disk, check_app_service, check_registry, check_ml_workspace, check_cognitive,
]

__all__ = ["CHECKS", "RULES", "any_public", "as_unresolved", "covers", "flag", "hit",
           "is_all_ports", "is_public_cidr", "items", "lower", "opaque",
           "port_range", "rule", "show", "sub_block", "sub_blocks", "text", "unresolved",
           "with_tool_ids"]
