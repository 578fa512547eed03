"""Each Dockerfile rule: reported on the bad form, silent on the fixed form and on the safe
look-alike a careless rule would flag."""

from __future__ import annotations

import pytest
from dockertest_helpers import df, hits, problems

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import Unresolved

HEALTHY = "HEALTHCHECK CMD true\n"

# --- runs as root -------------------------------------------------------------------------


def test_no_user_runs_as_root_at_the_final_from() -> None:
    a = df("""\
        FROM python:3.12-slim
        COPY . /app
        """)
    (hit,) = hits(a, "root-user")
    assert hit.line == 1 and hit.resource == "Dockerfile stage 0"
    assert "python:3.12-slim" in hit.message


def test_user_root_last_is_reported_at_that_user_line() -> None:
    a = df("""\
        FROM node:20-slim
        USER node
        RUN npm ci
        USER root
        CMD ["node", "server.js"]
        """)
    (hit,) = hits(a, "root-user")
    assert hit.line == 4 and hit.evidence == "USER root"


@pytest.mark.parametrize("user", ["0", "0:0", "root:root", "ROOT"])
def test_uid_zero_forms_are_root(user: str) -> None:
    assert hits(df(f"FROM alpine:3.20\nUSER {user}\n"), "root-user")


def test_root_then_non_root_is_fine() -> None:
    a = df("""\
        FROM debian:12
        USER root
        RUN apt-get update
        USER 10001:10001
        """)
    assert not hits(a, "root-user")


def test_root_build_stage_and_non_root_final_stage_is_fine() -> None:
    a = df("""\
        FROM golang:1.22 AS build
        RUN go build -o /out/app ./cmd/app
        FROM debian:12-slim AS runtime
        COPY --from=build /out/app /app
        USER 65532
        """)
    assert not hits(a, "root-user")


def test_final_stage_inherits_user_from_earlier_stage() -> None:
    a = df("""\
        FROM python:3.12-slim AS base
        RUN useradd -u 10001 app
        USER app
        FROM base AS runtime
        COPY . /app
        """)
    assert not hits(a, "root-user")
    runtime = next(r for r in a.resources if r.name == "Dockerfile stage runtime")
    assert runtime.attrs["user"] == "app" and runtime.attrs["runs_as_root"] is False
    assert runtime.attrs["base_stage"] == "base"


def test_earlier_stage_root_inherited_is_reported() -> None:
    a = df("""\
        FROM python:3.12-slim AS base
        FROM base AS runtime
        RUN true
        """)
    (hit,) = hits(a, "root-user")
    assert hit.resource == "Dockerfile stage runtime"


@pytest.mark.parametrize("base", [
    "gcr.io/distroless/python3-debian12:nonroot",
    "gcr.io/distroless/static:debug-nonroot",
    "cgr.dev/chainguard/python:latest",
    "bitnami/redis:7.2",
    "docker.io/bitnami/postgresql:16",
    "nginxinc/nginx-unprivileged:1.27-alpine",
    "docker:27-dind-rootless",
    "mcr.microsoft.com/dotnet/aspnet:8.0-jammy-chiseled",
])
def test_non_root_bases_without_user_are_not_flagged(base: str) -> None:
    assert not hits(df(f"FROM {base}\nCOPY app /app\n"), "root-user")


@pytest.mark.parametrize("base", [
    "gcr.io/distroless/python3-debian12",  # the default distroless tag runs as root
    "cgr.dev/chainguard/python:latest-dev",
    "cgr.dev/chainguard/wolfi-base",
    "bitnami/minideb:bookworm",
    "nginx:1.27",
    "scratch",
])
def test_root_default_bases_are_flagged(base: str) -> None:
    assert hits(df(f"FROM {base}\nCOPY app /app\n"), "root-user")


def test_user_from_arg_default_is_resolved() -> None:
    a = df("""\
        FROM alpine:3.20
        ARG APP_UID=0
        USER ${APP_UID}
        """)
    (hit,) = hits(a, "root-user")
    assert "0" in hit.message


def test_user_from_unresolved_variable_is_a_problem_not_a_pass() -> None:
    a = df("FROM alpine:3.20\nARG APP_USER\nUSER $APP_USER\n")
    assert not hits(a, "root-user")
    assert problems(a, "iac.unresolved")
    (res,) = a.resources
    assert isinstance(res.attrs["user"], Unresolved)
    assert isinstance(res.attrs["runs_as_root"], Unresolved)


# --- remote script execution -------------------------------------------------------------


def test_curl_pipe_sh_in_run() -> None:
    a = df("FROM alpine:3.20\nRUN curl -fsSL https://get.example.com | sh\n")
    (hit,) = hits(a, "remote-script-exec")
    assert hit.line == 2 and hit.severity is None


def test_curl_pipe_sh_in_exec_form() -> None:
    a = df('FROM alpine:3.20\nRUN ["/bin/sh", "-c", "wget -qO- https://x.example/i | sh"]\n')
    assert hits(a, "remote-script-exec")


def test_curl_pipe_sh_across_continuation_lines() -> None:
    a = df("""\
        FROM ubuntu:24.04
        RUN apt-get update \\
         && curl -fsSL https://deb.example.com/setup.sh \\
            | bash - \\
         && apt-get install -y tool
        """)
    (hit,) = hits(a, "remote-script-exec")
    assert hit.line == 2


def test_curl_pipe_sh_inside_heredoc_run_names_the_body_line() -> None:
    a = df("""\
        # syntax=docker/dockerfile:1.7
        FROM debian:12
        RUN <<EOF
        set -eux
        apt-get update
        curl -fsSL https://get.example.com | sh
        EOF
        USER 1000
        """)
    (hit,) = hits(a, "remote-script-exec")
    assert hit.line == 6
    assert "curl -fsSL" in hit.evidence


def test_heredoc_with_shell_named_and_dash_form() -> None:
    a = df("FROM debian:12\nRUN bash <<-SCRIPT\n\twget -qO- https://x.example | bash\n\tSCRIPT\n")
    assert hits(a, "remote-script-exec")


def test_download_then_run_without_checksum_is_medium_confidence() -> None:
    a = df("FROM debian:12\n"
           "RUN curl -fsSLo /tmp/i.sh https://x.example/i.sh && sh /tmp/i.sh\n")
    (hit,) = hits(a, "remote-script-exec")
    assert hit.confidence == Confidence.MEDIUM


def test_download_verify_then_run_is_fine() -> None:
    a = df("""\
        FROM debian:12
        RUN curl -fsSLo /tmp/i.sh https://x.example/v1/i.sh \\
         && echo "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  /tmp/i.sh" \\
            | sha256sum -c - \\
         && sh /tmp/i.sh
        """)
    assert not hits(a, "remote-script-exec")


def test_curl_into_tar_is_not_remote_execution() -> None:
    a = df("FROM debian:12\nRUN curl -fsSL https://x.example/t.tgz | tar xz -C /opt\n")
    assert not hits(a, "remote-script-exec")


def test_remote_exec_evidence_is_redacted() -> None:
    token = "ghp_" + "Zx8Kq2Lm9Vb4Nw7Rt1Yp5Hs3Jd6Fg0AcEe2W"
    a = df(f'FROM debian:12\nRUN curl -H "Authorization: token {token}" https://x.example | sh\n')
    (hit,) = hits(a, "remote-script-exec")
    assert token not in hit.evidence and token not in hit.message


# --- ADD --------------------------------------------------------------------------------


def test_add_url_without_checksum() -> None:
    a = df("FROM debian:12\nADD https://x.example/tool.tar.gz /opt/\n")
    (hit,) = hits(a, "add-remote-url")
    assert hit.line == 2
    assert not hits(a, "add-instead-of-copy")


def test_add_url_with_checksum_is_fine() -> None:
    a = df("FROM debian:12\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2"
           "945d1036d1dc68d https://x.example/tool.tar.gz /opt/\n")
    assert not hits(a, "add-remote-url") and not hits(a, "add-instead-of-copy")


def test_add_git_url_pinned_to_commit_is_fine_unpinned_is_not() -> None:
    pinned = df("FROM debian:12\nADD https://github.com/o/r.git#"
                "0123456789abcdef0123456789abcdef01234567 /src\n")
    floating = df("FROM debian:12\nADD https://github.com/o/r.git#main /src\n")
    assert not hits(pinned, "add-remote-url")
    assert hits(floating, "add-remote-url")


def test_add_local_file_where_copy_suffices() -> None:
    a = df("FROM debian:12\nADD requirements.txt app.py /app/\n")
    (hit,) = hits(a, "add-instead-of-copy")
    assert hit.severity is None


def test_add_local_archive_and_copy_are_fine() -> None:
    a = df("FROM debian:12\nADD vendor.tar.gz /opt/\nCOPY app.py /app/\n")
    assert not hits(a, "add-instead-of-copy")


def test_add_from_another_stage_is_not_judged_as_local() -> None:
    a = df("FROM debian:12 AS b\nRUN true\nFROM debian:12\nADD --from=b /x /x\n")
    assert not hits(a, "add-instead-of-copy")


# --- secrets ---------------------------------------------------------------------------


def test_secret_env_literal_is_reported_redacted() -> None:
    value = "Sup3r-" + "Secr3tV4lue"
    a = df(f'FROM debian:12\nENV DB_PASSWORD="{value}" APP_PORT=8080\n')
    (hit,) = hits(a, "hardcoded-secret")
    assert value not in hit.evidence and value not in hit.message
    assert "DB_PASSWORD" in hit.evidence


def test_secret_env_legacy_form_and_arg_default() -> None:
    a = df("FROM debian:12\nENV API_KEY abcd1234" "efgh5678\nARG GITHUB_TOKEN=tok-123456789\n")
    assert len(hits(a, "hardcoded-secret")) == 2


def test_known_key_shape_under_any_name_is_high_confidence() -> None:
    key = "AKIA" + "Z7VRSQ5TJN2XMY6P"
    a = df(f"FROM debian:12\nENV SOME_SETTING={key}\n")
    (hit,) = hits(a, "hardcoded-secret")
    assert hit.confidence == Confidence.HIGH
    assert key not in hit.evidence


@pytest.mark.parametrize("line", [
    "ENV DB_PASSWORD_FILE=/run/secrets/db_password",
    "ENV TOKEN_URL=https://auth.example.com/token",
    "ENV API_KEY_ID=12345",
    "ENV DB_PASSWORD=${DB_PASSWORD}",
    "ENV SECRET_KEY=$SECRET_KEY",
    "ENV SKIP_TOKEN_CHECK=true",
    "ENV AUTH_ENABLED=false",
    "ENV PASSWORD=",
])
def test_secret_look_alikes_are_not_reported(line: str) -> None:
    a = df(f"FROM debian:12\n{line}\n")
    assert not hits(a, "hardcoded-secret"), line


def test_secret_build_arg_without_default_is_lower_severity() -> None:
    a = df("FROM node:20\nARG NPM_TOKEN\nRUN npm ci\n")
    (hit,) = hits(a, "secret-build-arg")
    assert hit.rule_id == "iac.docker.secret-build-arg"
    assert not hits(a, "hardcoded-secret")


def test_secret_mount_is_the_good_look_alike() -> None:
    a = df("""\
        # syntax=docker/dockerfile:1
        FROM node:20
        ARG NODE_ENV
        RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci
        """)
    assert not hits(a, "secret-build-arg") and not hits(a, "hardcoded-secret")
    assert not hits(a, "secret-file-copied")


@pytest.mark.parametrize("src", ["id_rsa", ".env", "config/.env.production", "certs/server.key",
                                 "deploy/private.pem", ".npmrc", ".aws/credentials",
                                 "keystore.p12", "~/.ssh/"])
def test_secret_files_copied(src: str) -> None:
    a = df(f"FROM debian:12\nCOPY {src} /app/\n")
    (hit,) = hits(a, "secret-file-copied")
    assert hit.line == 2


@pytest.mark.parametrize("src", [".env.example", ".env.sample", "certs/ca.pem", "ca-bundle.pem",
                                 "fullchain.pem", "id_rsa.pub", "src/", "requirements.txt"])
def test_secret_file_look_alikes(src: str) -> None:
    a = df(f"FROM debian:12\nCOPY {src} /app/\n")
    assert not hits(a, "secret-file-copied"), src


def test_secret_copied_into_a_discarded_build_stage_is_lower() -> None:
    a = df("""\
        FROM alpine/git:2.45 AS fetch
        COPY id_rsa /root/.ssh/id_rsa
        RUN git clone git@example.com:o/r.git /src
        FROM debian:12
        COPY --from=fetch /src /src
        USER 1000
        """)
    (hit,) = hits(a, "secret-file-copied")
    assert hit.severity == Severity.MEDIUM


# --- base image pinning -------------------------------------------------------------------


@pytest.mark.parametrize("base", ["ubuntu", "node:latest", "ghcr.io/org/app",
                                  "registry.example.com:5000/team/app"])
def test_unpinned_bases(base: str) -> None:
    (hit,) = hits(df(f"FROM {base}\n"), "base-image-unpinned")
    assert hit.line == 1


@pytest.mark.parametrize("base", ["ubuntu:24.04", "registry.example.com:5000/team/app:1.2",
                                  "node@sha256:" + "a" * 64, "node:latest@sha256:" + "b" * 64,
                                  "scratch"])
def test_pinned_bases(base: str) -> None:
    assert not hits(df(f"FROM {base}\n"), "base-image-unpinned"), base


def test_from_an_earlier_stage_is_not_a_base_image() -> None:
    a = df("FROM python:3.12 AS build\nRUN true\nFROM build\nRUN true\n")
    assert not hits(a, "base-image-unpinned")


def test_base_from_arg_default_is_resolved() -> None:
    pinned = df("ARG BASE=python:3.11-slim\nFROM $BASE\n")
    floating = df("ARG BASE=python\nFROM ${BASE}\n")
    assert not hits(pinned, "base-image-unpinned")
    (hit,) = hits(floating, "base-image-unpinned")
    assert "python" in hit.message
    assert pinned.resources[0].attrs["base"] == "python:3.11-slim"


def test_base_from_arg_without_default_is_unresolved_problem() -> None:
    a = df("ARG BASE\nFROM $BASE\n")
    assert not hits(a, "base-image-unpinned")
    assert problems(a, "iac.unresolved")
    assert isinstance(a.resources[0].attrs["base"], Unresolved)
    (root,) = hits(a, "root-user")  # an unknown base is not assumed to be non-root
    assert root.confidence == Confidence.LOW


def test_platform_flag_is_not_the_image() -> None:
    a = df("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n")
    assert not hits(a, "base-image-unpinned")
    assert a.resources[0].attrs["base"] == "golang:1.22"


# --- EXPOSE 22, HEALTHCHECK, sudo, chmod --------------------------------------------------


@pytest.mark.parametrize("expose", ["22", "22/tcp", "8080 22", "20-25"])
def test_expose_ssh(expose: str) -> None:
    assert hits(df(f"FROM debian:12\nEXPOSE {expose}\n"), "ssh-port-exposed")


@pytest.mark.parametrize("expose", ["2222", "8022", "80 443", "220"])
def test_expose_other_ports(expose: str) -> None:
    assert not hits(df(f"FROM debian:12\nEXPOSE {expose}\n"), "ssh-port-exposed")


def test_expose_from_variable() -> None:
    assert hits(df("FROM debian:12\nARG SSH_PORT=22\nEXPOSE $SSH_PORT\n"), "ssh-port-exposed")


def test_healthcheck_missing_only_for_the_final_stage() -> None:
    a = df("FROM golang:1.22 AS build\nRUN true\nFROM debian:12\nUSER 1000\n")
    (hit,) = hits(a, "healthcheck-missing")
    assert hit.resource == "Dockerfile stage 1" and hit.line == 3
    assert not hits(df(f"FROM debian:12\n{HEALTHY}"), "healthcheck-missing")


def test_healthcheck_inherited_from_earlier_stage() -> None:
    a = df(f"FROM debian:12 AS base\n{HEALTHY}FROM base\nRUN true\n")
    assert not hits(a, "healthcheck-missing")


def test_sudo_used_vs_sudo_installed() -> None:
    assert hits(df("FROM debian:12\nRUN sudo apt-get install -y curl\n"), "sudo")
    assert not hits(df("FROM debian:12\nRUN apt-get install -y sudo && "
                       "echo 'app ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\n"), "sudo")


@pytest.mark.parametrize("cmd", ["chmod 777 /app", "chmod -R 0777 /data", "chmod a+rwx /app",
                                 "chmod o+w /etc/app.conf", "chmod -R ugo=rwx /srv"])
def test_world_writable(cmd: str) -> None:
    assert hits(df(f"FROM debian:12\nRUN {cmd}\n"), "world-writable"), cmd


@pytest.mark.parametrize("cmd", ["chmod 755 /app", "chmod 1777 /scratch", "chmod +x run.sh",
                                 "chmod -R u+rwX,go+rX /app", "chmod 775 /srv",
                                 "echo chmod 777"])
def test_not_world_writable(cmd: str) -> None:
    assert not hits(df(f"FROM debian:12\nRUN {cmd}\n"), "world-writable"), cmd


def test_copy_chmod_flag_world_writable() -> None:
    assert hits(df("FROM debian:12\nCOPY --chmod=777 app /app\n"), "world-writable")
    assert not hits(df("FROM debian:12\nCOPY --chmod=755 app /app\n"), "world-writable")


# --- pip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", [
    "pip install --trusted-host pypi.internal app",
    "pip3 install -i http://pypi.internal/simple app",
    "python3 -m pip install --index-url=http://pypi.internal/simple app",
    "pip install http://files.internal/app-1.0.tar.gz",
    "uv pip install --index-url http://pypi.internal/simple app",
])
def test_pip_insecure(cmd: str) -> None:
    assert hits(df(f"FROM python:3.12\nRUN {cmd}\n"), "pip-insecure-index"), cmd


def test_pip_insecure_env() -> None:
    assert hits(df("FROM python:3.12\nENV PIP_TRUSTED_HOST=pypi.internal\n"),
                "pip-insecure-index")
    assert hits(df("FROM python:3.12\nENV PIP_INDEX_URL=http://pypi.internal/simple\n"),
                "pip-insecure-index")


def test_pip_extra_index_url() -> None:
    a = df("FROM python:3.12\nRUN pip install --extra-index-url https://pypi.internal/simple x\n")
    assert hits(a, "pip-extra-index-url") and not hits(a, "pip-insecure-index")
    assert hits(df("FROM python:3.12\nENV PIP_EXTRA_INDEX_URL=https://pypi.internal/simple\n"),
                "pip-extra-index-url")


def test_pip_https_single_index_is_fine() -> None:
    a = df("FROM python:3.12\nRUN pip install --index-url https://pypi.internal/simple "
           "--require-hashes -r requirements.txt\n")
    assert not hits(a, "pip-insecure-index") and not hits(a, "pip-extra-index-url")


# --- ONBUILD ------------------------------------------------------------------------------


def test_onbuild_run_is_checked() -> None:
    assert hits(df("FROM debian:12\nONBUILD RUN curl -s https://x.example | sh\n"),
                "remote-script-exec")


def test_url_with_password_in_env_is_a_secret_and_redacted() -> None:
    password = "Xq7" + "vLm2pRz9"
    a = df(f"FROM debian:12\nENV DATABASE_URL=postgres://app:{password}@db:5432/app\n")
    (hit,) = hits(a, "hardcoded-secret")
    assert password not in hit.evidence and password not in hit.message
    assert not hits(df("FROM debian:12\nENV DATABASE_URL=postgres://app:${DB_PW}@db/app\n"),
                    "hardcoded-secret")


def test_placeholder_secret_is_low_confidence() -> None:
    (hit,) = hits(df("FROM debian:12\nENV ADMIN_PASSWORD=changeme\n"), "hardcoded-secret")
    assert hit.confidence == Confidence.LOW


def test_names_that_only_contain_a_secret_word() -> None:
    a = df("FROM python:3.12\nENV TOKENIZERS_PARALLELISM=false HF_HOME=/cache "
           "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305\n")
    assert not hits(a, "hardcoded-secret")


# --- verification turned off -------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "RUN curl -kfsSL https://internal.example/tool -o /usr/local/bin/tool",
    "RUN curl --insecure -o t https://internal.example/t",
    "RUN wget --no-check-certificate https://internal.example/t",
    "RUN git -c http.sslVerify=false clone https://git.internal/o/r.git",
    "RUN git config --global http.sslverify false",
    "RUN npm config set strict-ssl false && npm ci",
    "RUN yarn config set strict-ssl false",
    "RUN NODE_TLS_REJECT_UNAUTHORIZED=0 npm install",
    "RUN export GIT_SSL_NO_VERIFY=1 && git clone https://git.internal/o/r.git",
    "RUN yum-config-manager --save --setopt=internal.sslverify=0",
    "RUN apt-get -o Acquire::https::Verify-Peer=false update",
    "ENV NODE_TLS_REJECT_UNAUTHORIZED=0",
    "ENV PYTHONHTTPSVERIFY 0",
    "ARG NPM_CONFIG_STRICT_SSL=false",
    "ENV GIT_SSL_NO_VERIFY=true",
])
def test_tls_verification_disabled(line: str) -> None:
    assert hits(df(f"FROM debian:12\n{line}\n"), "tls-verification-disabled"), line


@pytest.mark.parametrize("line", [
    "RUN curl -fsSL https://x.example/t -o t",
    "RUN curl -K /etc/curlrc https://x.example/t",
    "RUN echo 'use curl -k only in tests'",
    "RUN git config --global http.sslVerify true",
    "ENV NODE_TLS_REJECT_UNAUTHORIZED=1",
    "ENV GIT_SSL_NO_VERIFY=",
    "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/corp.pem",
    "RUN wget --ca-certificate=/etc/ssl/corp.pem https://internal.example/t",
])
def test_tls_verification_look_alikes(line: str) -> None:
    assert not hits(df(f"FROM debian:12\n{line}\n"), "tls-verification-disabled"), line


@pytest.mark.parametrize("line", [
    "RUN apt-get install -y --allow-unauthenticated tool",
    "RUN apt-get install -y --force-yes tool",
    "RUN apt-get -o APT::Get::AllowUnauthenticated=true install tool",
    "RUN echo 'deb [trusted=yes] http://repo.internal/ stable main' "
    "> /etc/apt/sources.list.d/i.list",
    "RUN apk add --allow-untrusted /tmp/tool.apk",
    "RUN yum install -y --nogpgcheck tool",
    "RUN dnf install -y --setopt=gpgcheck=0 tool",
    "RUN rpm -i --nosignature /tmp/tool.rpm",
    "RUN printf '[internal]\\nbaseurl=http://repo.internal\\ngpgcheck=0\\n' "
    "> /etc/yum.repos.d/i.repo",
])
def test_package_signature_disabled(line: str) -> None:
    assert hits(df(f"FROM debian:12\n{line}\n"), "package-signature-disabled"), line


def test_package_signature_disabled_in_copied_heredoc_repo_file() -> None:
    a = df("""\
        FROM rockylinux:9
        COPY <<EOF /etc/yum.repos.d/internal.repo
        [internal]
        baseurl=https://repo.internal/el9
        gpgcheck=0
        EOF
        """)
    (hit,) = hits(a, "package-signature-disabled")
    assert hit.line == 2


@pytest.mark.parametrize("line", [
    "RUN apt-get install -y --no-install-recommends tool",
    "RUN echo 'deb [signed-by=/usr/share/keyrings/r.gpg] https://repo.example/ stable main' "
    "> /etc/apt/sources.list.d/r.list",
    "RUN yum install -y tool && rpm --import https://repo.example/key",
    "RUN printf '[r]\\ngpgcheck=1\\n' > /etc/yum.repos.d/r.repo",
    "RUN apk add --no-cache tool",
])
def test_package_signature_look_alikes(line: str) -> None:
    assert not hits(df(f"FROM debian:12\n{line}\n"), "package-signature-disabled"), line


def test_global_args_before_from_are_checked() -> None:
    a = df("ARG NPM_TOKEN\nARG API_KEY=abcd1234" "efgh5678\nFROM node:20\nUSER node\n")
    (build_arg,) = hits(a, "secret-build-arg")
    (secret,) = hits(a, "hardcoded-secret")
    assert (build_arg.line, secret.line) == (1, 2)
    assert build_arg.resource == "Dockerfile" and build_arg.block == (1, 1)


@pytest.mark.parametrize("cmd", ["echo 'root:Docker!' | chpasswd",
                                 "echo \"app:Sup3rSecret\" | chpasswd -e",
                                 "printf 'admin:hunter2hunter2' | sudo chpasswd",
                                 "echo 'n0tSoSecret1' | passwd --stdin app"])
def test_literal_account_password(cmd: str) -> None:
    (hit,) = hits(df(f"FROM debian:12\nRUN {cmd}\n"), "hardcoded-secret")
    assert "Docker!" not in hit.evidence and "Sup3rSecret" not in hit.evidence
    assert "hunter2" not in hit.evidence and "n0tSoSecret1" not in hit.evidence


@pytest.mark.parametrize("cmd", ["chpasswd < /run/secrets/passwords",
                                 "echo \"app:$APP_PASSWORD\" | chpasswd",
                                 "echo \"app:$(cat /run/secrets/pw)\" | chpasswd",
                                 "passwd -d app", "echo 'root:x' > /tmp/note"])
def test_account_password_look_alikes(cmd: str) -> None:
    assert not hits(df(f"FROM debian:12\nRUN {cmd}\n"), "hardcoded-secret"), cmd


def test_global_arg_built_from_another_global_arg() -> None:
    a = df("ARG PY=3.12\nARG BASE=python:${PY}-slim\nFROM ${BASE}\nUSER app\n")
    assert a.resources[0].attrs["base"] == "python:3.12-slim"
    assert not hits(a, "base-image-unpinned")
