"""Compose rules (bad, fixed, look-alike) and Compose reading: short and long syntaxes, anchors,
legacy layouts, hostile YAML."""

from __future__ import annotations

import time

import pytest
from dockertest_helpers import dc, hits, problems

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import Unresolved


def svc(body: str, name: str = "app") -> str:
    """A one-service Compose file; ``body`` is the service's keys at column 0."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return f"services:\n  {name}:\n    image: registry.example.com/app:1.0\n{indented}"


# --- flags ------------------------------------------------------------------------------


def test_privileged() -> None:
    a = dc(svc("privileged: true"))
    (hit,) = hits(a, "privileged")
    assert hit.line == 4 and hit.resource == "service app" and hit.block == (2, 4)
    assert not hits(dc(svc("privileged: false")), "privileged")


def test_host_network_and_look_alike() -> None:
    assert hits(dc(svc("network_mode: host")), "host-network")
    assert not hits(dc(svc('network_mode: "service:proxy"')), "host-network")
    assert not hits(dc(svc("network_mode: bridge")), "host-network")


@pytest.mark.parametrize(("key", "severity"), [("pid", Severity.HIGH), ("ipc", Severity.MEDIUM),
                                               ("uts", Severity.LOW)])
def test_host_namespaces(key: str, severity: Severity) -> None:
    (hit,) = hits(dc(svc(f"{key}: host")), "host-namespace")
    assert hit.severity == severity
    assert not hits(dc(svc(f'{key}: "service:db"')), "host-namespace")


@pytest.mark.parametrize("user", ["root", '"0"', "0", '"0:0"', "root:root"])
def test_root_user(user: str) -> None:
    assert hits(dc(svc(f"user: {user}")), "iac.compose.root-user"), user


@pytest.mark.parametrize("user", ['"1000:1000"', "app", '"65532"', "rootless"])
def test_non_root_user(user: str) -> None:
    assert not hits(dc(svc(f"user: {user}")), "iac.compose.root-user"), user


def test_dangerous_capabilities() -> None:
    a = dc(svc("cap_add:\n  - SYS_ADMIN\n  - CAP_NET_ADMIN\n  - NET_BIND_SERVICE\n  - all"))
    found = {(h.line, h.severity) for h in hits(a, "dangerous-capability")}
    assert found == {(5, Severity.HIGH), (6, Severity.MEDIUM), (8, Severity.HIGH)}
    assert not hits(dc(svc("cap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE, CHOWN]")),
                    "dangerous-capability")


@pytest.mark.parametrize("opt", ["seccomp:unconfined", "seccomp=unconfined", "apparmor:unconfined",
                                 "apparmor=unconfined", "label:disable", "label=disable",
                                 "label=type:spc_t", "systempaths=unconfined"])
def test_security_profile_disabled(opt: str) -> None:
    assert hits(dc(svc(f"security_opt:\n  - {opt}")), "security-profile-disabled"), opt


def test_security_opt_look_alikes() -> None:
    a = dc(svc("security_opt:\n  - no-new-privileges:true\n  - seccomp:./profile.json\n"
               "  - apparmor:docker-default\n  - label:type:container_t"))
    assert not hits(a, "security-profile-disabled")


# --- volumes ----------------------------------------------------------------------------


@pytest.mark.parametrize("volume", [
    "/var/run/docker.sock:/var/run/docker.sock",
    "/var/run/docker.sock:/var/run/docker.sock:ro",
    "/run/docker.sock:/tmp/d.sock",
    "//var/run/docker.sock:/var/run/docker.sock",
    "/run/containerd/containerd.sock:/run/containerd/containerd.sock",
    "/run/user/1000/podman/podman.sock:/var/run/docker.sock",
    "${DOCKER_SOCK:-/var/run/docker.sock}:/var/run/docker.sock",
])
def test_docker_socket_short_syntax(volume: str) -> None:
    (hit,) = hits(dc(svc(f"volumes:\n  - {volume}")), "docker-socket")
    assert hit.line == 5


def test_docker_socket_long_syntax_and_windows_pipe() -> None:
    long = svc("volumes:\n  - type: bind\n    source: /var/run/docker.sock\n"
               "    target: /var/run/docker.sock\n    read_only: true")
    assert hits(dc(long), "docker-socket")
    pipe = svc("volumes:\n  - \\\\.\\pipe\\docker_engine:\\\\.\\pipe\\docker_engine")
    assert hits(dc(pipe), "docker-socket")


def test_var_run_directory_mount_is_socket_with_medium_confidence() -> None:
    (hit,) = hits(dc(svc("volumes:\n  - /var/run:/host/var/run")), "docker-socket")
    assert hit.confidence == Confidence.MEDIUM


@pytest.mark.parametrize(("volume", "severity"), [
    ("/:/host", None), ("/:/rootfs:ro", Severity.MEDIUM), ("/etc:/host/etc", None),
    ("/proc:/host/proc:ro", Severity.MEDIUM), ("/etc/ssl/private:/certs", Severity.MEDIUM),
    ("/root/.ssh:/root/.ssh", Severity.MEDIUM), ("/var/lib/docker:/var/lib/docker:ro",
                                                  Severity.MEDIUM),
])
def test_sensitive_host_mounts(volume: str, severity: Severity | None) -> None:
    (hit,) = hits(dc(svc(f"volumes:\n  - {volume}")), "sensitive-host-mount")
    assert hit.severity == severity


def test_sensitive_mount_long_syntax() -> None:
    a = dc(svc("volumes:\n  - type: bind\n    source: /etc\n    target: /hostetc"))
    (hit,) = hits(a, "sensitive-host-mount")
    assert hit.line == 5


@pytest.mark.parametrize("volume", [
    "/etc/localtime:/etc/localtime:ro", "/etc/timezone:/etc/timezone:ro",
    "/etc/ssl/certs:/etc/ssl/certs:ro", "./data:/data", "data:/var/lib/postgresql/data",
    "/srv/app/uploads:/uploads", "/home/dev/project:/app", "/var/log/app:/logs",
    "/var/lib/postgresql/data", "${DATA_DIR}:/data", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
])
def test_mount_look_alikes(volume: str) -> None:
    a = dc(svc(f"volumes:\n  - {volume}"))
    assert not hits(a, "sensitive-host-mount") and not hits(a, "docker-socket"), volume


# --- ports ------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ['"5432:5432"', '"0.0.0.0:6379:6379"', '"15432:5432"',
                                  '"27017"', '"[::]:3306:3306"', '"9200-9201:9200-9201"',
                                  '"5432:5432/tcp"', "5432:5432", '"${PG_PORT:-5432}:5432"'])
def test_database_ports_published_everywhere(port: str) -> None:
    (hit,) = hits(dc(svc(f"ports:\n  - {port}")), "sensitive-port-public")
    assert hit.line == 5


def test_unquoted_sexagesimal_port_is_read_from_the_text() -> None:
    # YAML 1.1 reads 22:22 as 1342; the original text is what Compose users meant
    (hit,) = hits(dc(svc("ports:\n  - 22:22")), "sensitive-port-public")
    assert "SSH" in hit.message


def test_docker_api_port_is_high() -> None:
    (hit,) = hits(dc(svc('ports: ["2375:2375"]')), "sensitive-port-public")
    assert hit.severity == Severity.HIGH


def test_long_port_syntax() -> None:
    assert hits(dc(svc("ports:\n  - target: 5432\n    published: 5432")),
                "sensitive-port-public")
    assert not hits(dc(svc("ports:\n  - target: 5432\n    published: 5432\n"
                           "    host_ip: 127.0.0.1")), "sensitive-port-public")


@pytest.mark.parametrize("port", ['"127.0.0.1:5432:5432"', '"[::1]:6379:6379"',
                                  '"localhost:3306:3306"', '"10.0.0.5:5432:5432"', '"80:80"',
                                  '"443:443"', '"8080:8080"', '"5432:8080"', "8080",
                                  '"${BIND:-127.0.0.1}:5432:5432"', '"${BIND}:5432:5432"'])
def test_port_look_alikes(port: str) -> None:
    assert not hits(dc(svc(f"ports:\n  - {port}")), "sensitive-port-public"), port


def test_expose_is_not_publishing() -> None:
    assert not hits(dc(svc('expose: ["5432"]')), "sensitive-port-public")


# --- environment ------------------------------------------------------------------------


def test_literal_secret_map_and_list_forms_redacted() -> None:
    value = "Pr0d-" + "db-Passphrase-91"
    a = dc(svc(f"environment:\n  POSTGRES_PASSWORD: {value}\n  POSTGRES_USER: app"))
    (hit,) = hits(a, "secret-in-environment")
    assert hit.line == 5 and value not in hit.evidence and value not in hit.message
    b = dc(svc(f"environment:\n  - POSTGRES_USER=app\n  - POSTGRES_PASSWORD={value}"))
    (hit,) = hits(b, "secret-in-environment")
    assert hit.line == 6 and value not in hit.evidence


def test_known_key_shape_in_environment() -> None:
    key = "AKIA" + "Z7VRSQ5TJN2XMY6P"
    (hit,) = hits(dc(svc(f"environment:\n  SOME_ID: {key}")), "secret-in-environment")
    assert hit.confidence == Confidence.HIGH and key not in hit.evidence


def test_interpolated_default_secret_is_medium_confidence() -> None:
    a = dc(svc("environment:\n  REDIS_PASSWORD: ${REDIS_PASSWORD:-fallbackPass42}"))
    (hit,) = hits(a, "secret-in-environment")
    assert hit.confidence == Confidence.MEDIUM and "fallbackPass42" not in hit.evidence


@pytest.mark.parametrize("env", [
    "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}", "POSTGRES_PASSWORD: $POSTGRES_PASSWORD",
    "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}", "POSTGRES_PASSWORD_FILE: /run/secrets/db",
    "API_TOKEN:", "TOKEN_URL: https://auth.example.com/token", "AUTH_ENABLED: \"true\"",
    "DB_HOST: db",
])
def test_environment_look_alikes(env: str) -> None:
    assert not hits(dc(svc(f"environment:\n  {env}")), "secret-in-environment"), env


def test_env_file_and_secrets_are_fine() -> None:
    a = dc("""\
        services:
          db:
            image: postgres:16.3
            env_file: .env
            secrets: [db_password]
        secrets:
          db_password:
            file: ./db_password.txt
        """)
    assert not hits(a, "secret-in-environment")


def test_build_args_are_checked() -> None:
    a = dc("""\
        services:
          web:
            build:
              context: .
              args:
                NPM_TOKEN: npm-literal-token-value
        """)
    (hit,) = hits(a, "secret-in-environment")
    assert "build arg" in hit.message and hit.line == 6


# --- image ------------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["redis", "redis:latest", "ghcr.io/org/app",
                                   "myapp:${TAG:-latest}"])
def test_unpinned_image(image: str) -> None:
    a = dc(f"services:\n  app:\n    image: {image}\n")
    assert hits(a, "image-unpinned"), image


@pytest.mark.parametrize("image", ["redis:7.2.5", "redis@sha256:" + "c" * 64, "myapp:${TAG}",
                                   "registry.example.com:5000/app:1.0"])
def test_pinned_image(image: str) -> None:
    assert not hits(dc(f"services:\n  app:\n    image: {image}\n"), "image-unpinned"), image


def test_image_with_build_names_the_build_result() -> None:
    assert not hits(dc("services:\n  app:\n    build: .\n    image: myapp\n"), "image-unpinned")


# --- reading ----------------------------------------------------------------------------


def test_anchors_and_merge_keys_apply() -> None:
    a = dc("""\
        x-hardening: &danger
          privileged: true
          cap_add: [SYS_ADMIN]
        services:
          app:
            <<: *danger
            image: registry.example.com/app:1.0
        """)
    assert hits(a, "privileged") and hits(a, "dangerous-capability")
    (hit,) = hits(a, "privileged")
    assert hit.resource == "service app" and hit.block is not None and hit.line is not None
    assert hit.block[0] <= hit.line <= hit.block[1]


def test_legacy_v1_layout_top_level_services() -> None:
    a = dc("web:\n  image: nginx:1.27\n  privileged: true\ndb:\n  image: postgres\n")
    assert hits(a, "privileged") and hits(a, "image-unpinned")
    assert {r.name for r in a.resources} == {"service web", "service db"}


def test_resources_are_services_with_attrs_and_lines() -> None:
    a = dc(svc("ports: [\"80:80\"]\nenvironment:\n  A: b"))
    (res,) = a.resources
    assert (res.framework, res.type, res.name) == ("compose", "service", "service app")
    assert res.attrs["ports"] == ["80:80"] and res.lines["environment.A"] == 6
    assert (res.line, res.end_line) == (2, 6) and a.files == 1


def test_version_only_file_and_empty_file() -> None:
    assert dc('version: "3.8"\n').problems == []
    empty = dc("")
    assert empty.problems == [] and empty.hits == []


def test_not_a_compose_file_is_a_parse_error() -> None:
    assert problems(dc("- just\n- a list\n"), "iac.parse-error")


def test_malformed_yaml_is_a_parse_error_with_line() -> None:
    a = dc("services:\n  app:\n    image: [unclosed\n")
    (problem,) = a.problems
    assert problem.rule_id == "iac.parse-error" and problem.line is not None


def test_duplicate_keys_are_a_parse_error() -> None:
    a = dc("services:\n  app:\n    image: a:1\n  app:\n    image: b:1\n")
    assert problems(a, "iac.parse-error")


def test_service_that_is_not_a_mapping() -> None:
    a = dc("services:\n  app: [1, 2]\n  ok:\n    image: x:1\n    privileged: true\n")
    assert problems(a, "iac.parse-error") and hits(a, "privileged")


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("services:\n  app:\n    image: x:1\n    command: *a11")
    start = time.monotonic()
    a = dc("\n".join(lines) + "\n")
    assert time.monotonic() - start < 2
    assert problems(a, "iac.parse-error") and a.hits == []


def test_deep_nesting_is_refused() -> None:
    text = "services:\n  app:\n    labels: " + "[" * 500 + "]" * 500 + "\n"
    assert problems(dc(text), "iac.parse-error")


def test_python_tags_are_refused_not_constructed() -> None:
    text = "services:\n  app:\n    image: !!python/object/apply:os.system ['true']\n"
    assert problems(dc(text), "iac.parse-error")


def test_odd_value_types_do_not_raise() -> None:
    a = dc("""\
        services:
          app:
            image: 12
            user: 0
            privileged: "true"
            ports: [true, null, 1.5, {}, {target: abc}, "a:b:c:d:e"]
            volumes: [null, 3, {type: volume, source: x}, {source: 4}]
            cap_add: [null, 7]
            security_opt: null
            environment: [null, 5, "=x", "A"]
          other: null
        """)
    assert hits(a, "privileged") and hits(a, "iac.compose.root-user")


def test_url_with_password_in_environment() -> None:
    password = "Xq7" + "vLm2pRz9"
    a = dc(svc(f"environment:\n  DATABASE_URL: postgres://app:{password}@db:5432/app"))
    (hit,) = hits(a, "secret-in-environment")
    assert password not in hit.evidence and password not in hit.message
    b = dc(svc("environment:\n  DATABASE_URL: postgres://app:${DB_PASSWORD}@db:5432/app"))
    assert not hits(b, "secret-in-environment")


def test_named_volume_binding_a_host_path_is_judged_as_that_path() -> None:
    a = dc("""\
        services:
          agent:
            image: agent:1.0
            volumes:
              - dockersock:/var/run/docker.sock
              - type: volume
                source: hostroot
                target: /host
        volumes:
          dockersock:
            driver_opts: {type: none, o: bind, device: /var/run/docker.sock}
          hostroot:
            driver: local
            driver_opts: {type: none, o: "bind,ro", device: /}
          data: {}
        """)
    assert [h.line for h in hits(a, "docker-socket")] == [5]
    assert [h.line for h in hits(a, "sensitive-host-mount")] == [6]
    plain = dc("services:\n  db:\n    image: pg:16\n    volumes: [data:/var/lib/pg]\n"
               "volumes:\n  data: {}\n")
    assert plain.hits == []


def test_legacy_net_host() -> None:
    (hit,) = hits(dc("web:\n  image: nginx:1.27\n  net: host\n"), "host-network")
    assert hit.line == 3


def test_inline_dockerfile_is_checked_on_the_compose_lines() -> None:
    a = dc("""\
        services:
          tool:
            build:
              context: .
              dockerfile_inline: |
                FROM alpine:3.20
                RUN curl -fsSL https://x.example/i.sh | sh
                USER 1000
        """)
    (hit,) = hits(a, "iac.docker.remote-script-exec")
    assert hit.line == 7 and hit.resource == "service tool"
    assert "dockerfile_inline" in hit.message


def test_resource_attrs_apply_defaults_and_mark_unresolved() -> None:
    a = dc(svc("environment:\n  A: ${A:-one}\n  B: ${B}\n  C: $$literal\nlabels: [x]"))
    (res,) = a.resources
    env = res.attrs["environment"]
    assert env["A"] == "one" and env["C"] == "$literal"
    assert isinstance(env["B"], Unresolved) and env["B"].text == "${B}"
    assert res.attrs["labels"] == ["x"]


def test_many_services_are_quick() -> None:
    body = "".join(f"  s{i}:\n    image: app:1\n    ports: [\"80:80\"]\n    environment:\n"
                   f"      A: b\n" for i in range(600))
    start = time.monotonic()
    a = dc("services:\n" + body)
    assert time.monotonic() - start < 2
    assert len(a.resources) == 600 and a.resources[-1].end_line == 1 + 600 * 5

