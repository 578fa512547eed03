"""Turned-off verification in build commands: TLS certificate checks (``curl -k``, ``wget
--no-check-certificate``, ``git -c http.sslVerify=false``, ``NODE_TLS_REJECT_UNAUTHORIZED=0``…)
and package signature checks (``apt-get --allow-unauthenticated``, ``[trusted=yes]``,
``apk --allow-untrusted``, ``yum --nogpgcheck``, ``rpm --nosignature``, ``gpgcheck=0``…).

Each function returns what it found as short descriptions (empty: nothing). Commands are read
with :mod:`.shell`, so ``echo "curl -k"`` is not a curl call; variables are matched wherever a
``NAME=value`` word stands (``ENV``, ``ARG`` defaults, ``export``, ``env``, a command prefix).
"""

from __future__ import annotations

import re

from secpipe.scanners.iac.docker import shell

_TLS_ENV: dict[str, re.Pattern[str]] = {
    "GIT_SSL_NO_VERIFY": re.compile(r"^(?!(0|false|no)?$).+", re.I),
    "NODE_TLS_REJECT_UNAUTHORIZED": re.compile(r"^0$"),
    "NPM_CONFIG_STRICT_SSL": re.compile(r"^false$", re.I),
    "YARN_STRICT_SSL": re.compile(r"^false$", re.I),
    "PYTHONHTTPSVERIFY": re.compile(r"^0$"),
    "CURL_CA_BUNDLE": re.compile(r"^$"),
    "GIT_SSL_VERIFY": re.compile(r"^(0|false|no)$", re.I),
}
"""Environment variables that switch certificate verification off, and the values that do."""
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_SSLVERIFY_OFF = re.compile(r"(?i)(^|[.=])sslverify['\"]?=['\"]?(0|false|no)['\"]?$")
_APT_TLS_OFF = re.compile(r"(?i)^Acquire::https?::(.+::)?Verify-(Peer|Host)=(false|0|no)$")
_APT_UNSIGNED = re.compile(r"(?i)^(APT::Get::AllowUnauthenticated|"
                           r"Acquire::AllowInsecureRepositories|"
                           r"Acquire::AllowDowngradeToInsecureRepositories)=(true|1|yes)$")
_TRUSTED_YES = re.compile(r"\[[^\]\n]*\btrusted=yes\b[^\]\n]*\]")
_GPGCHECK_OFF = re.compile(r"(^|\\n|[\s'\"])(repo_)?gpgcheck\s*=\s*(0|false|no)\b",
                           re.IGNORECASE | re.MULTILINE)


def tls_env(name: str, value: str) -> str:
    """A description when ``name=value`` turns certificate checks off, else ''."""
    pattern = _TLS_ENV.get(name.upper())
    value = value.strip().strip("'\"")
    if pattern is not None and pattern.search(value):
        return f"{name}={value}"
    return ""


def _short_flags(args: list[str]) -> str:
    return "".join(a[1:] for a in args if re.fullmatch(r"-[A-Za-z0-9]+", a))


def tls_disabled(script: shell.Script) -> list[str]:
    """Commands and variable assignments that turn TLS certificate verification off."""
    found: list[str] = []
    for _, _, cmd in shell.iter_commands(script):
        for word in cmd.args:
            match = _ASSIGN.match(word.text)
            if match and tls_env(match.group(1), match.group(2)):
                found.append(tls_env(match.group(1), match.group(2)))
        real = [w.text for w in cmd.real]
        if not real:
            continue
        name = real[0].rsplit("/", 1)[-1]
        args = real[1:]
        lower = [a.lower() for a in args]
        if name == "curl" and ("--insecure" in lower or "k" in _short_flags(args)):
            found.append("curl --insecure")
        elif name == "wget" and "--no-check-certificate" in lower:
            found.append("wget --no-check-certificate")
        elif name == "git":
            joined = " ".join(lower)
            if re.search(r"http\.([^ ]+\.)?sslverify(=| )(false|0|no)\b", joined):
                found.append("git http.sslVerify=false")
        elif name in ("npm", "yarn", "pnpm"):
            joined = " ".join(lower).replace("=", " ")
            if re.search(r"\bstrict-ssl[\"']? (false|0)\b", joined):
                found.append(f"{name} strict-ssl false")
        elif name in ("yum-config-manager", "dnf", "yum", "dnf-config-manager") and any(
                _SSLVERIFY_OFF.search(a.split("--setopt=", 1)[-1]) for a in args):
            found.append(f"{name} sslverify=0")
        elif name in ("apt-get", "apt") and any(_APT_TLS_OFF.match(a) for a in args):
            found.append(f"{name} Verify-Peer=false")
    return found


def signatures_disabled(script: shell.Script, text: str) -> list[str]:
    """Package installs with signature checks off (and repository definitions written with
    ``[trusted=yes]`` or ``gpgcheck=0`` in ``text``, the RUN's text)."""
    found: list[str] = []
    for _, _, cmd in shell.iter_commands(script):
        real = [w.text for w in cmd.real]
        if not real:
            continue
        name = real[0].rsplit("/", 1)[-1]
        lower = [a.lower() for a in real[1:]]
        if name == "apk" and "--allow-untrusted" in lower:
            found.append("apk --allow-untrusted")
        elif name in ("apt-get", "apt", "aptitude"):
            for flag in ("--allow-unauthenticated", "--force-yes", "--allow-insecure-repositories"):
                if flag in lower:
                    found.append(f"{name} {flag}")
            if any(_APT_UNSIGNED.match(a) for a in real[1:]):
                found.append(f"{name} -o AllowUnauthenticated")
        elif name == "rpm":
            for flag in ("--nosignature", "--nodigest", "--nofiledigest", "--noverify"):
                if flag in lower:
                    found.append(f"rpm {flag}")
        elif name in ("yum", "dnf", "tdnf", "microdnf", "zypper"):
            if "--nogpgcheck" in lower or "--no-gpg-checks" in lower:
                found.append(f"{name} --nogpgcheck")
            elif any(re.fullmatch(r"--setopt=([^=]+\.)?gpgcheck=(0|false|no)", a) for a in lower):
                found.append(f"{name} --setopt=gpgcheck=0")
        elif name == "dpkg" and "--force-bad-verify" in lower:
            found.append("dpkg --force-bad-verify")
    if _TRUSTED_YES.search(text):
        found.append("an apt source marked [trusted=yes]")
    if _GPGCHECK_OFF.search(text):
        found.append("a repository with gpgcheck=0")
    return found
