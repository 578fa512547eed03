"""The Dockerfile and Compose rules (their ids, texts and mappings; the checks live in
:mod:`.dockerfile` and :mod:`.compose`).

Compliance ids follow the CIS Docker Benchmark v1.6.0 numbering (section 4: images and build
files; section 5: container runtime, where 5.1 is swarm mode, so privileged containers are 5.5,
sensitive host mounts 5.6, sshd 5.7, host network 5.10, interface binding 5.14, host PID 5.16,
host IPC 5.17, seccomp 5.22 and the Docker socket 5.32). Aliases are the checkov
(``CKV_DOCKER_*``, ``CKV2_DOCKER_*``) and trivy (``AVD-DS-*``) ids about the same concern,
checked against those projects' check sources.
"""

from __future__ import annotations

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacRule, rule_table

_D = "dockerfile"
_C = "compose"

DOCKERFILE_RULES = (
    IacRule(
        id="iac.docker.root-user", title="Container image runs as root", severity=Severity.HIGH,
        framework=_D, cwe="CWE-250", controls=("CIS-DOCKER-4.1", "NIST-800-53:AC-6"),
        rationale="The final stage sets no non-root USER (or switches back to root), so every "
                  "process of the container runs as uid 0: a flaw in the application becomes "
                  "root in the container, one kernel or runtime bug away from the host.",
        fix="Create an unprivileged user and end the final stage with `USER app` (or a numeric "
            "uid), or build on a base that runs as non-root by default.",
        bad="FROM python:3.12-slim\nCOPY . /app\nCMD [\"python\", \"/app/main.py\"]",
        good="FROM python:3.12-slim AS build\nRUN pip install --prefix=/install .\n"
             "FROM gcr.io/distroless/python3:nonroot\nCOPY --from=build /install /usr/local\n"
             "# root in the build stage is fine: only the final stage runs",
        aliases=("CKV_DOCKER_8", "CKV_DOCKER_3", "AVD-DS-0002")),
    IacRule(
        id="iac.docker.remote-script-exec",
        title="RUN executes a script downloaded without verification", severity=Severity.HIGH,
        framework=_D, cwe="CWE-494", controls=("CIS-DOCKER-4.11", "NIST-800-53:SI-7",
                                               "NIST-800-53:CM-14"),
        rationale="`curl … | sh` runs whatever the server (or anyone on the path, or whoever "
                  "took over the domain) sends at build time, as root, with the build's "
                  "secrets and network in reach; nothing pins or checks what ran.",
        fix="Download to a file, verify a pinned checksum or signature (`sha256sum -c`, "
            "`gpg --verify`, `cosign verify-blob`), then run it; or install a signed package.",
        bad="RUN curl -fsSL https://get.example.com/install.sh | sh",
        good="RUN curl -fsSLo /tmp/i.sh https://get.example.com/v1.2/install.sh \\\n"
             " && echo \"<sha256>  /tmp/i.sh\" | sha256sum -c - && sh /tmp/i.sh\n"
             "# and `curl … | tar xz` (data, not a program) is not reported",
        aliases=()),
    IacRule(
        id="iac.docker.add-remote-url", title="ADD downloads a remote file without a checksum",
        severity=Severity.MEDIUM, framework=_D, cwe="CWE-494",
        controls=("CIS-DOCKER-4.9", "NIST-800-53:SI-7"),
        rationale="`ADD https://…` puts whatever the URL serves at build time into the image; "
                  "without `--checksum` nothing detects a changed or tampered download.",
        fix="Use `ADD --checksum=sha256:<digest> <url> <dest>`, or `RUN curl` with a checksum "
            "check; for a git URL pin a commit (`…git#<40-hex commit>`).",
        bad="ADD https://example.com/tool.tar.gz /opt/",
        good="ADD --checksum=sha256:24454f8…e4 https://example.com/tool.tar.gz /opt/",
        aliases=()),
    IacRule(
        id="iac.docker.add-instead-of-copy", title="ADD used where COPY suffices",
        severity=Severity.LOW, framework=_D, cwe="CWE-710",
        controls=("CIS-DOCKER-4.9", "NIST-800-53:CM-7"),
        rationale="ADD also fetches URLs and unpacks archives; for plain local files it hides "
                  "that behaviour from readers and reviewers.",
        fix="Use COPY for local files and directories; keep ADD for archives you mean to unpack.",
        bad="ADD requirements.txt /app/",
        good="COPY requirements.txt /app/\n# unpacking an archive is what ADD is for\n"
             "ADD vendor.tar.gz /opt/",
        aliases=("CKV_DOCKER_4", "AVD-DS-0005")),
    IacRule(
        id="iac.docker.hardcoded-secret", title="Secret in an ENV or ARG value",
        severity=Severity.HIGH, framework=_D, cwe="CWE-798",
        controls=("CIS-DOCKER-4.10", "NIST-800-53:IA-5(7)"),
        rationale="ENV values are stored in the image config and ARG values in its history, "
                  "and a password piped into chpasswd is in the Dockerfile and the layer's "
                  "command: anyone who can read the repository or pull the image can read them.",
        fix="Pass build-time secrets with `RUN --mount=type=secret,id=…` and runtime secrets "
            "through the orchestrator (Docker/Kubernetes secrets, a file under /run/secrets).",
        bad="ENV DB_PASSWORD=\"s3cr3t-value\"",
        good="ENV DB_PASSWORD_FILE=/run/secrets/db_password\n"
             "RUN --mount=type=secret,id=npm_token NPM_TOKEN=$(cat /run/secrets/npm_token) npm ci",
        aliases=("AVD-DS-0031", "CKV2_DOCKER_17"), confidence=Confidence.MEDIUM),
    IacRule(
        id="iac.docker.secret-build-arg", title="Secret passed as a build argument",
        severity=Severity.MEDIUM, framework=_D, cwe="CWE-538",
        controls=("CIS-DOCKER-4.10", "NIST-800-53:IA-5(7)"),
        rationale="A build argument named like a secret (`ARG NPM_TOKEN`) is given on the "
                  "command line and recorded in the image history of every RUN that uses it.",
        fix="Use a secret mount: `RUN --mount=type=secret,id=npm_token …` and "
            "`docker build --secret id=npm_token,env=NPM_TOKEN`.",
        bad="ARG NPM_TOKEN\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc",
        good="RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci",
        aliases=("AVD-DS-0031",), confidence=Confidence.MEDIUM),
    IacRule(
        id="iac.docker.secret-file-copied", title="Secret file copied into the image",
        severity=Severity.HIGH, framework=_D, cwe="CWE-538",
        controls=("CIS-DOCKER-4.10", "NIST-800-53:IA-5(7)"),
        rationale="A private key, `.env`, `.npmrc` or credentials file COPY'd into a layer stays "
                  "in the image even when a later RUN deletes it.",
        fix="Mount it only while needed: `RUN --mount=type=secret,id=npmrc,target=/root/.npmrc "
            "npm ci`, and keep such files out of the build context with .dockerignore.",
        bad="COPY id_rsa /root/.ssh/id_rsa",
        good="RUN --mount=type=ssh git clone git@github.com:org/private.git\n"
             "COPY .env.example /app/.env.example",
        aliases=("AVD-DS-0031",)),
    IacRule(
        id="iac.docker.base-image-unpinned", title="Base image not pinned (no tag or latest)",
        severity=Severity.MEDIUM, framework=_D, cwe="CWE-829",
        controls=("CIS-DOCKER-4.2", "NIST-800-53:CM-2", "NIST-800-53:SI-7"),
        rationale="`FROM image` or `FROM image:latest` builds on whatever the tag points to "
                  "today: builds are not reproducible and a pushed image changes yours.",
        fix="Pin a version tag, and better a digest: `FROM python:3.12.4-slim@sha256:…`.",
        bad="FROM ubuntu\nFROM node:latest",
        good="FROM node:20.14-bookworm-slim@sha256:… AS build\n"
             "# an earlier stage is not a base image\nFROM build AS runtime",
        aliases=("CKV_DOCKER_7", "AVD-DS-0001")),
    IacRule(
        id="iac.docker.ssh-port-exposed", title="Port 22 (SSH) exposed", severity=Severity.MEDIUM,
        framework=_D, cwe="CWE-284", controls=("CIS-DOCKER-5.7", "NIST-800-53:CM-7"),
        rationale="An SSH server in a container is another way in, with its own keys and "
                  "passwords to manage; `docker exec` covers debugging.",
        fix="Remove sshd and `EXPOSE 22`; use `docker exec`/`kubectl exec` for access.",
        bad="EXPOSE 22", good="EXPOSE 8080", aliases=("CKV_DOCKER_1", "AVD-DS-0004")),
    IacRule(
        id="iac.docker.healthcheck-missing", title="No HEALTHCHECK in the final stage",
        severity=Severity.LOW, framework=_D, cwe="CWE-754",
        controls=("CIS-DOCKER-4.6", "NIST-800-53:SI-6"),
        rationale="Without a HEALTHCHECK the engine cannot tell a hung service from a healthy "
                  "one, so nothing restarts or routes around it.",
        fix="Add `HEALTHCHECK CMD …` to the final stage (or `HEALTHCHECK NONE` to state that the "
            "orchestrator probes it).",
        bad="FROM nginx:1.27\nCOPY site /usr/share/nginx/html",
        good="FROM nginx:1.27\nHEALTHCHECK CMD curl -fs http://localhost/ || exit 1",
        aliases=("CKV_DOCKER_2", "AVD-DS-0026")),
    IacRule(
        id="iac.docker.sudo", title="RUN uses sudo", severity=Severity.LOW, framework=_D,
        cwe="CWE-250", controls=("NIST-800-53:AC-6",),
        rationale="Build steps already run as the current USER; sudo in an image means a "
                  "sudo-capable user at runtime and unpredictable TTY/signal behaviour.",
        fix="Switch with `USER root` for the step that needs it and back to the app user.",
        bad="RUN sudo apt-get install -y curl",
        good="USER root\n# installing the sudo package is not using it\n"
             "RUN apt-get install -y curl sudo"
             "\nUSER app",
        aliases=("CKV2_DOCKER_1", "AVD-DS-0010")),
    IacRule(
        id="iac.docker.world-writable", title="World-writable permissions (chmod 777)",
        severity=Severity.LOW, framework=_D, cwe="CWE-732", controls=("NIST-800-53:AC-3",),
        rationale="Files any user can write let any process in the container replace "
                  "programs or configuration the application trusts.",
        fix="Give ownership to the app user (`COPY --chown=app`, `chown`) and use 755/644.",
        bad="RUN chmod -R 777 /app",
        good="RUN chmod -R 755 /app\nRUN chmod 1777 /scratch  # sticky: like /tmp",
        aliases=()),
    IacRule(
        id="iac.docker.pip-insecure-index", title="pip installs over an unverified channel",
        severity=Severity.MEDIUM, framework=_D, cwe="CWE-295",
        controls=("CIS-DOCKER-4.11", "NIST-800-53:SC-8", "NIST-800-53:SI-7"),
        rationale="`--trusted-host` turns off TLS verification for that host and an `http://` "
                  "index or package URL is plain text: anyone on the path can swap packages.",
        fix="Use an https index with a valid certificate (add the CA with `--cert` if private) "
            "and pin hashes (`--require-hashes`).",
        bad="RUN pip install --trusted-host pypi.internal -i http://pypi.internal/simple app",
        good="RUN pip install --index-url https://pypi.internal/simple app",
        aliases=("CKV2_DOCKER_4", "CKV2_DOCKER_16")),
    IacRule(
        id="iac.docker.tls-verification-disabled",
        title="Build step turns off TLS certificate verification", severity=Severity.MEDIUM,
        framework=_D, cwe="CWE-295", controls=("CIS-DOCKER-4.11", "NIST-800-53:SC-8",
                                               "NIST-800-53:SI-7"),
        rationale="`curl -k`, `wget --no-check-certificate`, `git -c http.sslVerify=false`, "
                  "`NODE_TLS_REJECT_UNAUTHORIZED=0` and the like accept any certificate: "
                  "whoever is on the path serves the download. As ENV they stay on at runtime.",
        fix="Keep verification on; install the private CA into the image's trust store (or "
            "point the tool at it: `curl --cacert`, `NODE_EXTRA_CA_CERTS`).",
        bad="RUN curl -kfsSL https://internal.example.com/tool -o /usr/local/bin/tool\n"
            "ENV NODE_TLS_REJECT_UNAUTHORIZED=0",
        good="COPY corp-ca.crt /usr/local/share/ca-certificates/\nRUN update-ca-certificates "
             "&& curl -fsSL https://internal.example.com/tool -o /usr/local/bin/tool",
        aliases=("CKV2_DOCKER_2", "CKV2_DOCKER_3", "CKV2_DOCKER_5", "CKV2_DOCKER_6",
                 "CKV2_DOCKER_12", "CKV2_DOCKER_13", "CKV2_DOCKER_14", "CKV2_DOCKER_15")),
    IacRule(
        id="iac.docker.package-signature-disabled",
        title="Packages installed without signature verification", severity=Severity.HIGH,
        framework=_D, cwe="CWE-347", controls=("CIS-DOCKER-4.11", "NIST-800-53:SI-7",
                                               "NIST-800-53:CM-14"),
        rationale="`--allow-unauthenticated`, `--force-yes`, `[trusted=yes]`, "
                  "`apk --allow-untrusted`, `--nogpgcheck`, `gpgcheck=0` and `rpm "
                  "--nosignature` install whatever the mirror or the network hands over.",
        fix="Import the repository's signing key (`signed-by=` keyring, `rpm --import`) and "
            "keep signature checks on.",
        bad="RUN apt-get install -y --allow-unauthenticated tool",
        good="RUN curl -fsSL https://repo.example.com/key.gpg | gpg --dearmor -o "
             "/usr/share/keyrings/repo.gpg && apt-get install -y tool",
        aliases=("CKV2_DOCKER_7", "CKV2_DOCKER_8", "CKV2_DOCKER_9", "CKV2_DOCKER_10",
                 "CKV2_DOCKER_11")),
    IacRule(
        id="iac.docker.pip-extra-index-url", title="pip --extra-index-url (dependency confusion)",
        severity=Severity.LOW, framework=_D, cwe="CWE-427", controls=("NIST-800-53:SR-3",),
        rationale="With `--extra-index-url` pip picks the highest version from *any* index: a "
                  "public package with your private package's name wins.",
        fix="Use one index that proxies PyPI (`--index-url`), or pin hashes.",
        bad="RUN pip install --extra-index-url https://pypi.internal/simple app",
        good="RUN pip install --index-url https://pypi.internal/simple app", aliases=()),
)

COMPOSE_RULES = (
    IacRule(
        id="iac.compose.privileged", title="Service runs privileged", severity=Severity.HIGH,
        framework=_C, cwe="CWE-250", controls=("CIS-DOCKER-5.5", "NIST-800-53:AC-6"),
        rationale="A privileged container has every capability and all host devices: root in "
                  "it is root on the host.",
        fix="Remove `privileged: true`; add only the capabilities needed with `cap_add`.",
        bad="services:\n  app:\n    privileged: true",
        good="services:\n  app:\n    cap_add: [NET_BIND_SERVICE]", aliases=()),
    IacRule(
        id="iac.compose.host-network", title="Service uses the host network",
        severity=Severity.MEDIUM, framework=_C, cwe="CWE-653",
        controls=("CIS-DOCKER-5.10", "NIST-800-53:SC-7"),
        rationale="`network_mode: host` shares the host's network stack: the service can bind "
                  "any host port and reach services listening on the host's loopback.",
        fix="Use a bridge network and publish only the ports needed.",
        bad="services:\n  app:\n    network_mode: host",
        good="services:\n  app:\n    network_mode: \"service:proxy\"", aliases=()),
    IacRule(
        id="iac.compose.host-namespace", title="Service shares a host namespace (pid/ipc/uts)",
        severity=Severity.HIGH, framework=_C, cwe="CWE-653",
        controls=("CIS-DOCKER-5.16", "CIS-DOCKER-5.17", "NIST-800-53:SC-39"),
        rationale="`pid: host` lets the container see and signal every host process; "
                  "`ipc: host` shares host shared memory; `uts`/`userns_mode: host` drop further "
                  "isolation.",
        fix="Remove `pid: host`/`ipc: host`; share with one other service (`pid: "
            "\"service:app\"`) when really needed.",
        bad="services:\n  agent:\n    pid: host",
        good="services:\n  agent:\n    pid: \"service:app\"", aliases=()),
    IacRule(
        id="iac.compose.docker-socket", title="Docker socket mounted into a service",
        severity=Severity.HIGH, framework=_C, cwe="CWE-250",
        controls=("CIS-DOCKER-5.32", "NIST-800-53:AC-6"),
        rationale="Whoever can talk to docker.sock can start a privileged container with the "
                  "host's root filesystem: it is root on the host, even when mounted `:ro`.",
        fix="Do not mount the socket; use a narrowly scoped API proxy if a tool must read it.",
        bad="volumes:\n  - /var/run/docker.sock:/var/run/docker.sock",
        good="volumes:\n  - ./data:/data", aliases=()),
    IacRule(
        id="iac.compose.sensitive-host-mount", title="Sensitive host directory mounted",
        severity=Severity.HIGH, framework=_C, cwe="CWE-668",
        controls=("CIS-DOCKER-5.6", "NIST-800-53:AC-3"),
        rationale="Mounting /, /etc, /proc, /sys, /root or /var/lib/docker gives the container "
                  "the host's configuration, credentials and, writable, the host itself.",
        fix="Mount only the specific files needed, read-only (`/etc/localtime:/etc/localtime:ro` "
            "is fine).",
        bad="volumes:\n  - /:/host", good="volumes:\n  - /etc/localtime:/etc/localtime:ro",
        aliases=()),
    IacRule(
        id="iac.compose.dangerous-capability", title="Dangerous capability added",
        severity=Severity.MEDIUM, framework=_C, cwe="CWE-250",
        controls=("CIS-DOCKER-5.4", "NIST-800-53:AC-6"),
        rationale="SYS_ADMIN is nearly root (mounts, namespaces), NET_ADMIN reconfigures "
                  "networking, SYS_PTRACE/SYS_MODULE reach other processes and the kernel, and "
                  "ALL is privileged mode.",
        fix="Drop ALL and add back only narrow capabilities (NET_BIND_SERVICE, CHOWN…).",
        bad="cap_add: [SYS_ADMIN]", good="cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE]",
        aliases=()),
    IacRule(
        id="iac.compose.security-profile-disabled",
        title="Seccomp, AppArmor or SELinux confinement disabled", severity=Severity.HIGH,
        framework=_C, cwe="CWE-693",
        controls=("CIS-DOCKER-5.22", "CIS-DOCKER-5.2", "CIS-DOCKER-5.3", "NIST-800-53:AC-3"),
        rationale="`seccomp:unconfined`, `apparmor:unconfined` and `label:disable` remove the "
                  "kernel-level filters that block most container escapes.",
        fix="Keep the default profiles; write a custom profile allowing the one extra syscall.",
        bad="security_opt:\n  - seccomp:unconfined",
        good="security_opt:\n  - no-new-privileges:true", aliases=()),
    IacRule(
        id="iac.compose.sensitive-port-public",
        title="Database or admin port published on all interfaces", severity=Severity.MEDIUM,
        framework=_C, cwe="CWE-668", controls=("CIS-DOCKER-5.14", "NIST-800-53:SC-7"),
        rationale="`\"5432:5432\"` publishes on 0.0.0.0: the database is reachable from every "
                  "network the host is on (and Docker's iptables rules bypass ufw).",
        fix="Bind to loopback (`\"127.0.0.1:5432:5432\"`) or do not publish: services on the same "
            "network reach it by name.",
        bad="ports:\n  - \"5432:5432\"",
        good="ports:\n  - \"127.0.0.1:5432:5432\"\n"
             "  - \"80:80\"  # a web port is meant to be public",
        aliases=()),
    IacRule(
        id="iac.compose.secret-in-environment", title="Literal secret in a service's environment",
        severity=Severity.HIGH, framework=_C, cwe="CWE-798",
        controls=("NIST-800-53:IA-5(7)",),
        rationale="A password or token written in the compose file is in version control and in "
                  "`docker inspect` output.",
        fix="Use `${VAR}` interpolation from an untracked .env, `env_file`, or Compose "
            "`secrets:` (`POSTGRES_PASSWORD_FILE: /run/secrets/db`).",
        bad="environment:\n  POSTGRES_PASSWORD: s3cr3t-value",
        good="environment:\n  POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n"
             "  POSTGRES_PASSWORD_FILE: /run/secrets/db",
        aliases=(), confidence=Confidence.MEDIUM),
    IacRule(
        id="iac.compose.image-unpinned", title="Service image not pinned (no tag or latest)",
        severity=Severity.MEDIUM, framework=_C, cwe="CWE-829",
        controls=("CIS-DOCKER-4.2", "NIST-800-53:CM-2"),
        rationale="An untagged or `latest` image changes under you at the next pull.",
        fix="Pin a version tag, better a digest.",
        bad="image: redis", good="image: redis:7.2.5-alpine", aliases=()),
    IacRule(
        id="iac.compose.root-user", title="Service explicitly runs as root",
        severity=Severity.MEDIUM, framework=_C, cwe="CWE-250",
        controls=("CIS-DOCKER-4.1", "NIST-800-53:AC-6"),
        rationale="`user: root` (or 0) overrides a non-root USER of the image.",
        fix="Run as an unprivileged uid (`user: \"1000:1000\"`).",
        bad="user: root", good="user: \"1000:1000\"", aliases=()),
)

RULES = rule_table((*DOCKERFILE_RULES, *COMPOSE_RULES))
"""Every Dockerfile and Compose rule by id."""
