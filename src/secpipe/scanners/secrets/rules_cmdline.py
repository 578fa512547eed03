"""Context rules for passwords passed on command lines.

People paste working commands into scripts, CI files, Dockerfiles and READMEs:
``curl -u user:pass``, ``mysql -pPASS``, ``sshpass -p PASS``, ``docker login -p PASS``,
``wget --password=PASS``. Each rule's keyword is the tool's name; its expression looks for the
tool's own password flag after it, on the same line, with shell quoting (``'…'``, ``"…"``) around
the value or not. A bare ``-p`` is a password only for tools where it means one (``mysql`` glued
to the value, ``sshpass``, ``docker login``), never a port (``docker run -p 8080:80``,
``ssh -p 2222``). Values that are variables (``$PASS``, ``${PASS}``, ``%PASS%``), prompts,
placeholders or well-known defaults are not findings.
"""

from __future__ import annotations

import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import Rule, rx

M = Severity.MEDIUM

#: A shell word as the value: quoted (group q) or bare; no variable expansion inside.
_VALUE = r"(?P<q>[\"']?)(?P<s>[^\s\"'`$<>|;(){}]{4,128})(?P=q)(?=[\s;|&)]|$)"
#: The rest of the same command: no ``;``, ``|``, ``&&`` or line break before the flag.
_SAME_COMMAND = r"[^;|&\n]*?[ \t]"
#: Well-known defaults and words that read as documentation.
_DEFAULTS = frozenset({
    "password", "passwd", "pass", "secret", "admin", "root", "test", "guest", "user", "changeme",
    "postgres", "mysql", "default", "demo", "example", "toor", "1234", "12345", "123456",
})  # fmt: skip


def _cmd_password(secret: str, m: re.Match[str]) -> bool:
    if secret.lower() in _DEFAULTS or secret.startswith("-"):
        return False
    if "user" in m.groupdict() and m.group("user") and secret == m.group("user"):
        return False
    return not (checks.is_placeholder(secret) or checks.is_test_value(secret)
                or checks.is_documented_example(secret))


def _rule(id: str, title: str, keywords: tuple[str, ...], command: str, flags: str) -> Rule:
    """The value of one of ``flags`` in the same command as ``command`` (which starts at the
    keyword: the rule's windows open there)."""
    pattern = r"(?:" + command + r")" + _SAME_COMMAND + r"(?:" + flags + r")" + _VALUE
    return Rule(id=id, title=title, severity=M, keywords=keywords, pattern=rx(pattern),
                validate=_cmd_password, after=400, priority=1, confidence=Confidence.MEDIUM,
                category="cmdline")


#: user:password after curl's -u/--user/--proxy-user (also glued: -uuser:pass).
_CURL_USER = (
    r"(?<![\w-])(?:-u|-U|--user|--proxy-user)(?:[ \t]+|=)?(?P<q>[\"']?)"
    r"(?P<user>[^\s:\"'`$%<>]{1,64}):(?P<s>[^\s\"'`$<>|;(){}]{4,128})(?P=q)(?=[\s;|&)]|$)"
)

RULES: tuple[Rule, ...] = (
    Rule("curl-user-password", "Password in a curl -u user:password argument", M,
         ("curl",), rx(_CURL_USER), validate=_cmd_password, after=400, priority=1,
         confidence=Confidence.MEDIUM, category="cmdline"),
    _rule("mysql-cli-password", "Password on a mysql command line", ("mysql", "mariadb"),
          r"(?i:mysql|mariadb)[\w-]*", r"-p(?=[^\s\"'])|--password[ \t]*=[ \t]*"),
    # sshpass's own options come before the command it runs (whose -p may be a port)
    Rule("sshpass-password", "Password given to sshpass -p", M, ("sshpass",),
         rx(r"(?i:sshpass)(?:[ \t]+-[a-oq-zA-Z]\S*)*[ \t]+-p[ \t]*" + _VALUE),
         validate=_cmd_password, after=400, priority=1, confidence=Confidence.MEDIUM,
         category="cmdline"),
    _rule("registry-login-password", "Password on a registry login command line",
          ("docker login", "podman login", "buildah login", "nerdctl login", "helm registry login",
           "skopeo login", "oras login"),
          r"(?i:login)", r"-p[ \t]+|--password(?:[ \t]+|=)"),
    _rule("cli-password-flag", "Password in a command-line flag",
          ("wget", "curl", "psql", "pg_dump", "mysql", "lftp", "smbclient", "sqlcmd", "mongo",
           "redis-cli", "svn", "ftp"),
          r"(?i:wget|curl|psql|pg_dump|mysql|lftp|smbclient|sqlcmd|mongo|redis-cli|svn|s?ftp)"
          r"[\w.-]*",
          r"--(?:http-|ftp-|proxy-)?(?:password|passwd|pass)(?:[ \t]+|=)"),
)  # fmt: skip
