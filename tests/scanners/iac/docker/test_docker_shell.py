"""The RUN-command reader: which program reads whose output, and remote code execution found in
the many forms teams write it (and not in the look-alikes)."""

from __future__ import annotations

import time

import pytest

from secpipe.scanners.iac.docker import shell

REMOTE_EXEC = [
    "curl -fsSL https://get.example.com/install.sh | sh",
    "curl -fsSL https://get.example.com | bash",
    "wget -qO- https://example.com/x.sh | sudo -E bash -s -- --channel stable",
    "curl -s https://example.com/x | sudo sh",
    "curl -sSf https://sh.rustup.rs | sh -s -- -y",
    "curl https://example.com/x | tee /tmp/copy | sh",
    "curl -s https://example.com/x 2>/dev/null | bash",
    "curl -s https://example.com/x |& bash -",
    "curl -s https://example.com/x | python3",
    "curl -s https://example.com/get-pip.py | python3 - --user",
    "curl -s https://example.com/x | env FOO=1 bash",
    "curl -s https://example.com/x | perl",
    'sh -c "$(curl -fsSL https://raw.example.com/install.sh)"',
    'bash -c "$(wget -qO- https://example.com/i.sh)"',
    "bash -c `curl -s https://example.com/i.sh`",
    'eval "$(curl -fsSL https://example.com/env.sh)"',
    "bash <(curl -s https://example.com/i.sh)",
    "source <(curl -s https://example.com/i.sh)",
    ". <(curl -s https://example.com/i.sh)",
    "python3 - < <(curl -s https://example.com/x.py)",
    "bash -c 'curl -sL https://example.com/x | bash'",
    "if [ -n \"$X\" ]; then curl -s https://example.com/x | sh; fi",
    "timeout 60 curl -s https://example.com/x | timeout -s KILL 5m bash",
    "apt-get update && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - "
    "&& apt-get install -y nodejs",
    "curl -fsSLo /tmp/i.sh https://example.com/i.sh && sh /tmp/i.sh",
    "curl -o install.sh https://example.com/install.sh && bash install.sh",
    "curl -O https://example.com/install.sh; bash install.sh --prefix=/usr",
    "wget https://example.com/install.sh && chmod +x install.sh && ./install.sh",
    "wget -O /tmp/setup.py https://example.com/setup.py && python3 /tmp/setup.py",
    "iex ((New-Object System.Net.WebClient).DownloadString('https://chocolatey.org/install.ps1'))",
    "Invoke-WebRequest https://example.com/i.ps1 -UseBasicParsing | Invoke-Expression",
    "python3 -c \"import urllib.request; "
    "exec(urllib.request.urlopen('https://x.example/a').read())\"",
    "python -c 'import requests; exec(requests.get(\"https://x.example/a\").text)'",
]

SAFE = [
    "curl -sL https://example.com/a.tgz | tar xz -C /opt",
    "curl -fsSL https://example.com/key.gpg | gpg --dearmor -o /usr/share/keyrings/k.gpg",
    "curl -s https://api.example.com/v | python3 -c 'import sys,json; print(json.load(sys.stdin))'",
    "curl -s https://example.com/x | jq -r .version",
    "curl -s https://example.com/x | sh -c 'cat > /tmp/x'",
    "curl -s https://example.com/x | python3 /opt/parse.py",
    "echo curl https://example.com | sh",
    "cat local.sh | sh",
    "apt-get update && apt-get install -y curl bash && rm -rf /var/lib/apt/lists/*",
    "curl -fsSLo /tmp/i.sh https://example.com/i.sh "
    "&& echo \"0123abcd  /tmp/i.sh\" | sha256sum -c - && sh /tmp/i.sh",
    "curl -fsSLO https://example.com/i.sh && curl -fsSLO https://example.com/i.sh.asc "
    "&& gpg --verify i.sh.asc i.sh && bash i.sh",
    "curl -o /tmp/data.json https://example.com/data.json && python3 /app/load.py",
    "wget -qO- https://example.com/x",
    "sh -c 'echo hello | tr a-z A-Z'",
    "echo '$(curl https://example.com)' > note.txt",
    "python3 -c \"import urllib.request; "
    "print(urllib.request.urlopen('https://x.example').status)\"",
]


@pytest.mark.parametrize("text", REMOTE_EXEC)
def test_remote_execution_is_found(text: str) -> None:
    assert shell.remote_exec(text), text


@pytest.mark.parametrize("text", SAFE)
def test_look_alikes_are_not_remote_execution(text: str) -> None:
    assert shell.remote_exec(text) == [], text


def test_pipe_names_downloader_and_interpreter() -> None:
    found = shell.remote_exec("wget -qO- https://x.example/i.sh | sudo -E bash -s")
    assert [(f.how, f.fetcher, f.interpreter) for f in found] == [("pipe", "wget", "bash")]


def test_piping_is_reported_even_when_a_checksum_is_checked_elsewhere() -> None:
    # the streamed bytes run as they arrive: a sha256sum elsewhere verified something else
    text = ("curl -fsSLo /tmp/a https://x.example/a && sha256sum -c a.sha256 "
            "&& curl -fsSL https://x.example/i.sh | sh")
    assert [f.how for f in shell.remote_exec(text)] == ["pipe"]


def test_download_then_run_without_verification_is_its_own_kind() -> None:
    found = shell.remote_exec("curl -fsSLo /tmp/i.sh https://x.example/i.sh && sh /tmp/i.sh")
    assert [(f.how, f.fetcher) for f in found] == [("download-then-run", "curl")]


def test_words_lose_quotes_and_keep_substitutions() -> None:
    script = shell.parse_script("FOO=1 sudo -u app \"a b\" 'c d' \"$(curl x)\" e\\ f")
    (pipeline,) = script.pipelines
    (cmd,) = pipeline
    texts = [w.text for w in cmd.args]
    assert texts[:4] == ["FOO=1", "sudo", "-u", "app"]
    assert texts[4:6] == ["a b", "c d"]
    assert cmd.args[6].subs == ["curl x"]
    assert texts[7] == "e f"
    assert shell.program(cmd.args) == "a b"


def test_separators_split_pipelines_and_pipes_split_commands() -> None:
    script = shell.parse_script("a | b && c; d || e & f\ng")
    assert [[shell.program(c.args) for c in p] for p in script.pipelines] == [
        ["a", "b"], ["c"], ["d"], ["e"], ["f"], ["g"]]


def test_redirections_are_not_arguments() -> None:
    (pipeline,) = shell.parse_script("curl -s https://x 2>&1 > /dev/null").pipelines
    assert [w.text for w in pipeline[0].args] == ["curl", "-s", "https://x"]


def test_sudo_is_seen_before_unwrapping() -> None:
    script = shell.parse_script("sudo apt-get install -y sudo")
    assert shell.raw_programs(script) == ["sudo"]
    assert shell.program(script.pipelines[0][0].args) == "apt-get"


def test_unbalanced_quotes_and_parens_do_not_raise() -> None:
    for text in ["echo \"unterminated", "echo 'x", "$(curl", "a <( b", "`x", "\\"]:
        shell.parse_script(text)
        shell.remote_exec(text)


def test_deep_nesting_is_cut_not_recursed_forever() -> None:
    text = "echo " + "$(" * 5000 + "curl x | sh" + ")" * 5000
    start = time.monotonic()
    shell.remote_exec(text)
    assert time.monotonic() - start < 2


def test_command_count_is_bounded() -> None:
    script = shell.parse_script("true;" * (shell.MAX_COMMANDS + 100))
    assert script.cut
    assert sum(len(p) for p in script.pipelines) == shell.MAX_COMMANDS


@pytest.mark.parametrize("verify", [
    'echo "$SUM  i.sh" | sha256sum -c -',
    "sha256sum --check i.sh.sha256",
    'test "$(sha256sum i.sh | cut -d" " -f1)" = "$SUM"',
    "sha512sum i.sh | grep -q \"$SUM\"",
    "gpg --batch --verify i.sh.asc i.sh",
    "gpgv --keyring ./k.gpg i.sh.sig i.sh",
    "cosign verify-blob --key k.pub --signature i.sh.sig i.sh",
])
def test_verification_forms_allow_download_then_run(verify: str) -> None:
    text = f"curl -fsSLo i.sh https://x.example/i.sh && {verify} && sh i.sh"
    assert shell.remote_exec(text) == [], verify


@pytest.mark.parametrize("not_verify", ["sha256sum i.sh", "gpg --import k.asc",
                                        "cosign sign i.sh", "echo verified"])
def test_printing_a_checksum_is_not_verifying(not_verify: str) -> None:
    text = f"curl -fsSLo i.sh https://x.example/i.sh && {not_verify} && sh i.sh"
    assert [f.how for f in shell.remote_exec(text)] == ["download-then-run"], not_verify
