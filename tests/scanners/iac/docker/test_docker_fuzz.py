"""Bad input never raises: random Dockerfile-, shell- and Compose-shaped text is analysed or
reported as a problem."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secpipe.scanners.iac.docker import compose, dockerfile, shell

_PIECES = ["FROM ", "RUN ", "USER ", "ARG ", "ENV ", "COPY ", "ADD ", "EXPOSE ", "ONBUILD ",
           "HEALTHCHECK ", "AS ", "<<", "EOF", "\\\n", "\n", "$", "${", "}", "$(", ")", "`", "'",
           '"', "|", "||", "&&", ";", "<(", ">", "2>&1", "curl ", "wget -O- ", "sh", "bash -c ",
           "sudo ", "chmod 777 ", "pip install ", "--trusted-host ", "=", "root", "0", ":",
           "[", "]", ",", "# escape=`\n", "`\n", "http://x/", "--checksum=", "--from=a ", " "]
_YAML = ["services:", "\n", "  ", "- ", ": ", "&a ", "*a", "<<: ", "[", "]", "{", "}", ",",
         "privileged", "true", "ports", "volumes", "environment", "5432:5432", "/:/h", "x",
         "image", "'", '"', "${A:-b}", "cap_add", "user", "0", "!!str ", "#", "?", "|", ">"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=60))
def test_dockerfile_text_never_raises(parts: list[str]) -> None:
    text = "".join(parts)
    analysis = dockerfile.analyse_text(text, "Dockerfile")
    for hit in analysis.hits:
        assert hit.line is None or hit.line >= 1
        assert hit.block is None or hit.block[0] <= hit.block[1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=60))
def test_shell_text_never_raises(parts: list[str]) -> None:
    text = "".join(parts)
    shell.remote_exec(text)
    shell.raw_programs(shell.parse_script(text))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_YAML) | st.text(max_size=3), max_size=50))
def test_compose_text_never_raises(parts: list[str]) -> None:
    compose.analyse_text("".join(parts), "compose.yaml")
