"""Decoys: strings that look like credentials but are not, and must not be reported."""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import zlib

import tokens as t
from layout import Item


def _d(category: str, var: str, value: str, note: str = "", tmpl: str | None = None) -> Item:
    return Item(var=var, value=value, category=category, note=note, line_tmpl=tmpl)


def _raw(category: str, line: str, note: str = "") -> Item:
    """A decoy that is a whole line of code (e.g. an environment lookup)."""
    return Item(var="", value=line, category=category, note=note, line_tmpl=line, raw=True)


def placeholders(rng: random.Random) -> list[Item]:
    values = [
        ("OPENAI_API_KEY", "YOUR_API_KEY"),
        ("GITHUB_TOKEN", "<token>"),
        ("API_KEY", "<your-api-key-here>"),
        ("DB_PASSWORD", "xxxxxxxxxxxx"),
        ("SECRET_KEY", "changeme"),
        ("STRIPE_SECRET_KEY", "${STRIPE_SECRET_KEY}"),
        ("DATABASE_URL", "postgresql://app:${DB_PASSWORD}@db:5432/app"),
        ("AWS_ACCESS_KEY_ID", "AKIAXXXXXXXXXXXXXXXX"),
        ("HF_TOKEN", "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("GH_TOKEN", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("SLACK_BOT_TOKEN", "xoxb-your-bot-token"),
        ("NPM_TOKEN", "${{ secrets.NPM_TOKEN }}"),
        ("API_TOKEN", "{{ .Values.apiToken }}"),
        ("ANTHROPIC_API_KEY", "sk-ant-..."),
        ("SMTP_PASSWORD", "<REDACTED>"),
        ("WANDB_API_KEY", "your-wandb-key"),
        ("REDIS_URL", "redis://:password@localhost:6379/0"),
        ("JWT_SECRET", "REPLACE_ME"),
        ("ADMIN_PASSWORD", "********"),
        ("OPENAI_KEY", "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("MONGO_URI", "mongodb://<username>:<password>@<host>:27017/<db>"),
        ("PYPI_TOKEN", "pypi-<token>"),
        ("DD_API_KEY", "$(cat /run/secrets/dd_api_key)"),
        ("TWILIO_AUTH_TOKEN", "your_auth_token"),
    ]
    items = [_d("placeholder", var, val) for var, val in values]
    raw = [
        'api_key = os.environ["OPENAI_API_KEY"]',
        'token = os.getenv("HF_TOKEN")',
        "const stripeKey = process.env.STRIPE_SECRET_KEY;",
        'password = os.environ.get("DB_PASSWORD", "")',
        'secret := os.Getenv("GITHUB_TOKEN")',
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}",
    ]
    items += [_raw("placeholder", line, "environment lookup") for line in raw]
    return items


def documented_examples() -> list[Item]:
    return [
        _d("documented-example", "AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "AWS docs"),
        _d(
            "documented-example",
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        _d("documented-example", "aws_key_id", "AKIAI44QH8DHBEXAMPLE", "AWS docs"),
        _d("documented-example", "aws_secret", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
        _d(
            "documented-example",
            "EXAMPLE_JWT",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l"
            "IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "jwt.io",
        ),
        _d(
            "documented-example",
            "STRIPE_TEST_KEY",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "Stripe docs",
        ),
        _d(
            "documented-example",
            "SLACK_WEBHOOK",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        _d("documented-example", "TWILIO_ACCOUNT_SID", "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
        _d(
            "documented-example",
            "GITHUB_EXAMPLE_TOKEN",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "GitHub docs sample, bad checksum",
        ),
        _d("documented-example", "MAILCHIMP_KEY", "0123456789abcdef0123456789abcdef-us6"),
    ]


def hashes(rng: random.Random) -> list[Item]:
    out: list[Item] = []
    for i in range(4):
        data = f"artifact-{rng.random()}".encode()
        out.append(_d("hash", f"FILE_MD5_{i}", hashlib.md5(data).hexdigest(), "md5"))  # noqa: S324
        out.append(_d("hash", f"COMMIT_SHA1_CHECK_{i}", hashlib.sha1(data).hexdigest(), "sha1"))  # noqa: S324
        out.append(_d("hash", f"MODEL_SHA256_{i}", hashlib.sha256(data).hexdigest(), "sha256"))
    out.append(_d("hash", "WEIGHTS_SHA512", hashlib.sha512(b"w").hexdigest(), "sha512"))
    out.append(_d("hash", "ETAG", hashlib.md5(b"e").hexdigest(), "etag"))  # noqa: S324
    for i in range(4):
        salt = t.rand(rng, t.ALNUM + "./", 53)
        out.append(_d("bcrypt", f"PASSWORD_HASH_{i}", f"$2b$12${salt}", "bcrypt hash"))
    return out


def uuids(rng: random.Random) -> list[Item]:
    names = [
        "REQUEST_ID",
        "TRACE_ID",
        "TENANT_ID",
        "AZURE_CLIENT_ID",
        "SUBSCRIPTION_ID",
        "RUN_ID",
        "EXPERIMENT_ID",
        "DATASET_UUID",
        "DEVICE_ID",
        "CORRELATION_ID",
    ]
    out = []
    for name in names:
        h = t.rand(rng, t.HEX, 32)
        out.append(_d("uuid", name, f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"))
    return out


def git_shas(rng: random.Random) -> list[Item]:
    return [
        _d("git-sha", "PINNED_COMMIT", t.rand(rng, t.HEX, 40)),
        _d("git-sha", "BASE_REVISION", t.rand(rng, t.HEX, 40)),
        _d("git-sha", "UPSTREAM_SHA", t.rand(rng, t.HEX, 40)),
        _raw("git-sha", f"git checkout {t.rand(rng, t.HEX, 40)}"),
    ]


def png_base64(rng: random.Random, size: int = 600) -> str:
    """Base64 of a small real PNG header plus compressed noise."""
    ihdr = struct.pack(">IIBBBBB", 32, 32, 8, 6, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    body += struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(rng.randbytes(size))
    body += struct.pack(">I", len(idat)) + b"IDAT" + idat
    return base64.b64encode(body).decode()


def images(rng: random.Random) -> list[Item]:
    return [
        _d("base64-image", "LOGO_DATA_URI", "data:image/png;base64," + png_base64(rng, 200)),
        _d("base64-image", "ICON", "data:image/png;base64," + png_base64(rng, 120)),
        _d("base64-image", "PLACEHOLDER_IMG", "data:image/png;base64," + png_base64(rng, 90)),
    ]


def _corrupt(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def malformed(rng: random.Random) -> list[Item]:
    gh = t.crc32_token("ghp_", t.rand(rng, t.ALNUM, 30))
    gho = t.crc32_token("gho_", t.rand(rng, t.ALNUM, 30))
    npm = t.crc32_token("npm_", t.rand(rng, t.ALNUM, 30))
    ghs = t.crc32_token("ghs_", t.rand(rng, t.ALNUM, 30))
    return [
        _d("bad-checksum", "GITHUB_TOKEN_OLD", _corrupt(gh), "CRC32 wrong"),
        _d("bad-checksum", "GH_OAUTH", _corrupt(gho), "CRC32 wrong"),
        _d("bad-checksum", "NPM_AUTH", _corrupt(npm), "CRC32 wrong"),
        _d("bad-checksum", "GH_APP", _corrupt(ghs), "CRC32 wrong"),
        _d("bad-length", "AWS_KEY_TRUNCATED", "AKIA" + t.rand(rng, t.UPPER_B32, 13), "too short"),
        _d("bad-length", "GITLAB_TOKEN_CUT", "glpat-" + t.rand(rng, t.ALNUM, 12), "too short"),
        _d("bad-length", "HF_TOKEN_PARTIAL", "hf_" + t.rand(rng, t.ALNUM, 12), "too short"),
        _d("bad-length", "DO_TOKEN_SHORT", "dop_v1_" + t.rand(rng, t.HEX, 20), "too short"),
        _d(
            "bad-length", "ANTHROPIC_TRUNC", "sk-ant-api03-" + t.rand(rng, t.ALNUM, 10), "too short"
        ),
        _d("bad-length", "SLACK_TOKEN_CUT", "xoxb-" + str(rng.randrange(10**5)), "too short"),
        _d("bad-format", "FAKE_JWT", "eyJub3QiOiJqc29u.eyJhYmMi.c2ln", "not a JWT"),
        _d("bad-length", "STRIPE_KEY_CUT", "sk_live_" + t.rand(rng, t.ALNUM, 8), "too short"),
    ]


def fixtures() -> list[Item]:
    return [
        _d("test-fixture", "TEST_PASSWORD", "password"),
        _d("test-fixture", "DEV_DB_PASSWORD", "postgres"),
        _d("test-fixture", "FIXTURE_SECRET", "secret"),
        _d("test-fixture", "EXAMPLE_API_KEY", "test"),
        _d("test-fixture", "ADMIN_PASS", "admin"),
        _d("test-fixture", "FAKE_TOKEN", "fake-token-for-tests"),
        _d("test-fixture", "DUMMY_PASSWORD", "dummy"),
        _d("test-fixture", "LOCAL_SECRET_KEY", "dev-secret-key-not-for-production"),
        _raw("test-fixture", 'assert login("admin", password="password123") is True'),
        _raw("test-fixture", 'user = User(name="alice", password="hunter2")'),
    ]


def high_entropy(rng: random.Random) -> list[Item]:
    drive = t.rand(rng, t.URLSAFE, 33)
    return [
        _d("url-id", "DEMO_VIDEO", f"https://www.youtube.com/watch?v={t.rand(rng, t.URLSAFE, 11)}"),
        _d("url-id", "DATA_LINK", f"https://drive.google.com/file/d/{drive}/view?usp=sharing"),
        _d(
            "url-id",
            "BUNDLE_URL",
            f"https://cdn.corp.example/assets/app.{t.rand(rng, t.HEX, 20)}.js",
        ),
        _d(
            "url-id",
            "PAPER_URL",
            f"https://arxiv.org/abs/{rng.randrange(1000, 2500)}.{rng.randrange(10000, 99999)}",
        ),
        _d(
            "css-hash",
            "BUTTON_CLASS",
            f"Button_primary__{t.rand(rng, t.ALNUM, 5)} css-{t.rand(rng, t.LOWER_DIGITS, 7)}",
        ),
        _d("publishable-key", "STRIPE_PUBLISHABLE_KEY", "pk_live_51" + t.rand(rng, t.ALNUM, 97)),
        _d(
            "public-key",
            "SSH_PUBLIC_KEY",
            "ssh-ed25519 "
            + base64.b64encode(
                b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + rng.randbytes(32)
            ).decode()
            + " deploy@ci",
        ),
        _d("image-digest", "BASE_IMAGE", f"python@sha256:{t.rand(rng, t.HEX, 64)}"),
        _d("sri", "SCRIPT_INTEGRITY", "sha384-" + base64.b64encode(rng.randbytes(48)).decode()),
        _d(
            "analytics-id",
            "GA_MEASUREMENT_ID",
            "G-" + t.rand(rng, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 10),
        ),
        _d("ulid", "JOB_ULID", "01" + t.rand(rng, "0123456789ABCDEFGHJKMNPQRSTVWXYZ", 24)),
        _d(
            "ipfs-cid",
            "DATASET_CID",
            "bafybei" + t.rand(rng, "abcdefghijklmnopqrstuvwxyz234567", 52),
        ),
        _d("go-sum", "MODULE_SUM", "h1:" + base64.b64encode(rng.randbytes(32)).decode()),
        _d(
            "public-key",
            "MAPBOX_PUBLIC_TOKEN",
            "pk.eyJ1IjoiY29ycC1tYXBzIiwiYSI6I"
            + t.rand(rng, t.ALNUM, 22)
            + "."
            + t.rand(rng, t.URLSAFE, 22),
        ),
        _d("url-id", "GIST_URL", f"https://gist.github.com/corp-bot/{t.rand(rng, t.HEX, 32)}"),
    ]
