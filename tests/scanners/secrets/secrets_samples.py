"""Per-rule samples, all built at run time: a true positive and a decoy for every secret rule.

Nothing here is a literal credential: every token is assembled from a prefix and random characters
(checksums computed), so this repository stays clean under any secret scanner.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import string
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER32 = string.ascii_uppercase + "234567"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
BECH32 = ("qpzry9x8" + "gf2tvdw0" + "s3jn54kh" + "ce6mua7l").upper()

Builder = Callable[[random.Random], str]


def r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b62(value: int, width: int = 6) -> str:
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = B62[digit] + out
    return out.rjust(width, "0")


def crc_token(rng: random.Random, prefix: str, good: bool = True) -> str:
    body = r(rng, ALNUM, 30)
    check = b62(binascii.crc32(body.encode()))
    if not good:
        check = check[::-1] if check[::-1] != check else "zzzzzz"
    return prefix + body + check


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt(rng: random.Random, header: dict[str, str] | None = None) -> str:
    head = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": str(rng.randrange(10**6)), "role": "service", "iat": 1_700_000_000}
    return ".".join([b64url(json.dumps(head).encode()), b64url(json.dumps(claims).encode()),
                     b64url(rng.randbytes(32))])


def pem(rng: random.Random, label: str = "RSA ") -> str:
    body = base64.b64encode(b"\x30\x82\x04\xa4\x02\x01\x00" + rng.randbytes(900)).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    kind = label + "PRIV" + "ATE KEY"
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----"


def assign(var: str, value: str) -> str:
    return f'{var} = "{value}"\n'


def _tok(var: str, gen: Builder, decoy: Builder) -> tuple[Builder, Builder]:
    return (lambda rng: assign(var, gen(rng))), (lambda rng: assign(var, decoy(rng)))


def _c(prefix: str, alphabet: str, n: int, suffix: str = "") -> Builder:
    return lambda rng: prefix + r(rng, alphabet, n) + suffix


def _x(prefix: str, n: int, suffix: str = "") -> Builder:
    """A placeholder in the right shape: the prefix then x characters."""
    return lambda rng: prefix + "x" * n + suffix


def _slack_user(rng: random.Random) -> str:
    nums = "-".join(str(rng.randrange(10**11, 10**12)) for _ in range(3))
    return f"xoxp-{nums}-{r(rng, HEX, 32)}"


def _discord(rng: random.Random, good: bool = True) -> str:
    head = b64url(str(rng.randrange(10**17, 10**18)).encode()) if good else "Mzk" + "x" * 22
    return head + "." + r(rng, URLSAFE, 6) + "." + r(rng, URLSAFE, 38)


def _url(scheme: str, password: str, user: str = "app") -> str:
    return f"{scheme}://{user}:{password}@db.internal:5432/main"


def _azure_key(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(64)).decode()


CRYPT64 = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase


def sha_crypt(rng: random.Random) -> str:
    """A sha512-crypt string (``$6$salt$86 characters``) of random characters."""
    return "$6$" + r(rng, CRYPT64, 16) + "$" + r(rng, CRYPT64, 86)


def bcrypt(rng: random.Random) -> str:
    """A bcrypt string (``$2y$10$`` and 53 characters) of random characters."""
    return "$2y$10$" + r(rng, CRYPT64, 53)


def _password(rng: random.Random) -> str:
    return "Maple" + rng.choice("#!%&") + str(rng.randrange(100, 9999)) + "tiger" + r(rng, ALNUM, 3)


SAMPLES: dict[str, tuple[Builder, Builder]] = {
    # format rules
    "secrets.aws-access-key": _tok("AWS_ACCESS_KEY_ID", _c("AKIA", UPPER32, 16),
                                   lambda rng: "AKIA" + "IOSFODNN7" + "EXAMPLE"),
    "secrets.gcp-api-key": _tok("GOOGLE_API_KEY", _c("AIza", URLSAFE, 35), _x("AIza", 35)),
    "secrets.google-oauth-client-secret": _tok("GOOGLE_CLIENT_SECRET", _c("GOCSPX-", URLSAFE, 28),
                                               _x("GOCSPX-", 28)),
    "secrets.azure-ad-client-secret": _tok(
        "AZURE_CLIENT_SECRET", lambda rng: r(rng, ALNUM, 3) + "8Q~" + r(rng, ALNUM, 31) + "aZ9",
        lambda rng: "abc8Q~" + "x" * 34),
    "secrets.alibaba-access-key": _tok("ALIBABA_KEY_ID", _c("LTAI", ALNUM, 20), _x("LTAI", 20)),
    "secrets.digitalocean-token": _tok("DO_TOKEN", _c("dop_v1_", HEX, 64), _c("dop_v1_", HEX, 12)),
    "secrets.heroku-api-key": _tok("HEROKU_API_KEY", _c("HRKU-AA", URLSAFE, 58),
                                   _x("HRKU-AA", 58)),
    "secrets.databricks-token": _tok("DATABRICKS_TOKEN", _c("dapi", HEX, 32), _c("dapi", HEX, 20)),
    "secrets.hashicorp-vault-token": _tok("VAULT_TOKEN", _c("hvs.", URLSAFE, 92), _x("hvs.", 92)),
    "secrets.pulumi-access-token": _tok("PULUMI_ACCESS_TOKEN", _c("pul-", HEX, 40),
                                        _c("pul-", HEX, 30)),
    "secrets.doppler-token": _tok("DOPPLER_TOKEN", _c("dp.pt.", ALNUM, 43), _x("dp.pt.", 43)),
    "secrets.supabase-token": _tok("SUPABASE_ACCESS_TOKEN", _c("sbp_", HEX, 40), _x("sbp_", 40)),
    "secrets.github-pat": _tok("GITHUB_TOKEN", lambda rng: crc_token(rng, "ghp_"),
                               lambda rng: crc_token(rng, "ghp_", good=False)),
    "secrets.github-oauth-token": _tok("GH_OAUTH", lambda rng: crc_token(rng, "gho_"),
                                       lambda rng: crc_token(rng, "gho_", good=False)),
    "secrets.github-app-server-token": _tok("GH_APP", lambda rng: crc_token(rng, "ghs_"),
                                            lambda rng: crc_token(rng, "ghs_", good=False)),
    "secrets.github-app-user-token": _tok("GH_USER", lambda rng: crc_token(rng, "ghu_"),
                                          lambda rng: crc_token(rng, "ghu_", good=False)),
    "secrets.github-refresh-token": _tok("GH_REFRESH", lambda rng: crc_token(rng, "ghr_"),
                                         lambda rng: crc_token(rng, "ghr_", good=False)),
    "secrets.github-fine-grained-pat": _tok(
        "GH_PAT", lambda rng: "github_pat_11" + r(rng, UPPER32, 20) + "_" + r(rng, ALNUM, 59),
        lambda rng: "github_pat_" + "x" * 22 + "_" + "x" * 59),
    "secrets.gitlab-pat": _tok("GITLAB_TOKEN", _c("glpat-", URLSAFE, 20), _x("glpat-", 20)),
    "secrets.gitlab-pipeline-trigger-token": _tok("GITLAB_TRIGGER", _c("glptt-", HEX, 40),
                                                  _x("glptt-", 40)),
    "secrets.gitlab-runner-token": _tok("RUNNER_TOKEN", _c("glrt-", URLSAFE, 20), _x("glrt-", 20)),
    "secrets.bitbucket-app-password": _tok("BITBUCKET_APP_PASSWORD", _c("ATBB", ALNUM, 32),
                                           _x("ATBB", 32)),
    "secrets.atlassian-api-token": _tok(
        "JIRA_API_TOKEN", _c("ATATT3xFfGF0", URLSAFE, 171, "=0A1B2C3D"), _x("ATATT3", 180)),
    "secrets.npm-token": _tok("NPM_TOKEN", lambda rng: crc_token(rng, "npm_"),
                              lambda rng: crc_token(rng, "npm_", good=False)),
    "secrets.pypi-token": _tok(
        "PYPI_API_TOKEN",
        lambda rng: "pypi-" + b64url(b"\x02\x01\x08pypi.org\x02\x1e" + rng.randbytes(90)),
        lambda rng: "pypi-" + b64url(b"\x02\x01\x08other.io\x02\x1e" + rng.randbytes(90))),
    "secrets.dockerhub-pat": _tok("DOCKERHUB_TOKEN", _c("dckr_pat_", URLSAFE, 27),
                                  _x("dckr_pat_", 27)),
    "secrets.rubygems-api-key": _tok("GEM_HOST_API_KEY", _c("rubygems_", HEX, 48),
                                     _c("rubygems_", HEX, 30)),
    "secrets.slack-bot-token": _tok(
        "SLACK_BOT_TOKEN",
        lambda rng: f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**12, 10**13)}-"
        + r(rng, ALNUM, 24),
        lambda rng: "xoxb-" + "x" * 10 + "-" + "x" * 24),
    "secrets.slack-user-token": _tok("SLACK_USER_TOKEN", _slack_user,
                                     lambda rng: "xoxp-1234-5678-90-" + "x" * 32),
    "secrets.slack-legacy-token": _tok(
        "SLACK_LEGACY_TOKEN",
        lambda rng: f"xoxs-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-"
        + r(rng, HEX, 64),
        lambda rng: "xoxs-000000000000-000000000000-" + "0" * 64),
    "secrets.slack-app-token": _tok(
        "SLACK_APP_TOKEN",
        lambda rng: f"xapp-1-A{r(rng, UPPER32, 10)}-{rng.randrange(10**12, 10**13)}-"
        + r(rng, HEX, 64),
        lambda rng: "xapp-1-A" + "X" * 10 + "-" + "0" * 13 + "-" + "x" * 64),
    "secrets.telegram-bot-token": _tok(
        "TELEGRAM_BOT_TOKEN", lambda rng: f"{rng.randrange(10**9, 8 * 10**9)}:AA"
        + r(rng, URLSAFE, 33), lambda rng: "123456789:AA" + "x" * 33),
    "secrets.stripe-secret-key": _tok("STRIPE_SECRET_KEY", _c("sk_live_51", ALNUM, 97),
                                      _x("sk_live_", 30)),
    "secrets.stripe-restricted-key": _tok("STRIPE_RESTRICTED", _c("rk_live_51", ALNUM, 97),
                                          _x("rk_live_", 30)),
    "secrets.square-access-token": _tok("SQUARE_ACCESS_TOKEN", _c("EAAA", URLSAFE, 60),
                                        _x("EAAA", 60)),
    "secrets.square-oauth-secret": _tok("SQUARE_OAUTH", _c("sq0csp-", URLSAFE, 43),
                                        _x("sq0csp-", 43)),
    "secrets.braintree-access-token": _tok(
        "BRAINTREE_TOKEN",
        lambda rng: "access_token$production$" + r(rng, string.ascii_lowercase + string.digits,
                                                   16) + "$" + r(rng, HEX, 32),
        lambda rng: "access_token$sandbox$" + "x" * 16 + "$" + "0" * 32),
    "secrets.shopify-access-token": _tok("SHOPIFY_TOKEN", _c("shpat_", HEX, 32),
                                         _c("shpat_", HEX, 20)),
    "secrets.shopify-shared-secret": _tok("SHOPIFY_SHARED", _c("shpss_", HEX, 32),
                                          _c("shpss_", HEX, 20)),
    "secrets.openai-api-key": _tok(
        "OPENAI_API_KEY", lambda rng: "sk-proj-" + r(rng, URLSAFE, 74) + "T3Blbk" + "FJ"
        + r(rng, URLSAFE, 74), lambda rng: "sk-proj-" + "x" * 40),
    "secrets.anthropic-api-key": _tok(
        "ANTHROPIC_API_KEY", lambda rng: "sk-ant-api03-" + r(rng, URLSAFE, 93) + "AA",
        lambda rng: "sk-ant-api03-" + "x" * 93 + "AA"),
    "secrets.huggingface-token": _tok("HF_TOKEN", _c("hf_", string.ascii_letters, 34),
                                      _x("hf_", 34)),
    "secrets.huggingface-org-token": _tok("HF_ORG_TOKEN", _c("api_org_", string.ascii_letters, 34),
                                          _x("api_org_", 34)),
    "secrets.replicate-api-token": _tok("REPLICATE_API_TOKEN", _c("r8_", ALNUM, 37),
                                        _x("r8_", 37)),
    "secrets.groq-api-key": _tok("GROQ_API_KEY", _c("gsk_", ALNUM, 52), _x("gsk_", 52)),
    "secrets.langsmith-api-key": _tok(
        "LANGCHAIN_API_KEY", lambda rng: "lsv2_pt_" + r(rng, HEX, 32) + "_" + r(rng, HEX, 10),
        lambda rng: "lsv2_pt_" + "0" * 32 + "_" + "0" * 10),
    "secrets.sendgrid-api-key": _tok(
        "SENDGRID_API_KEY", lambda rng: "SG." + r(rng, URLSAFE, 22) + "." + r(rng, URLSAFE, 43),
        lambda rng: "SG." + "x" * 22 + "." + "x" * 43),
    "secrets.mailgun-api-key": _tok("MAILGUN_API_KEY", _c("key-", HEX, 32), _x("key-", 32)),
    "secrets.mailchimp-api-key": _tok(
        "MAILCHIMP_API_KEY", lambda rng: r(rng, HEX, 32) + "-us" + str(rng.randrange(1, 20)),
        lambda rng: "0123456789abcdef" * 2 + "-us6"),
    "secrets.linear-api-key": _tok("LINEAR_API_KEY", _c("lin_api_", ALNUM, 40),
                                   _x("lin_api_", 40)),
    "secrets.notion-token": _tok("NOTION_TOKEN", _c("secret_", ALNUM, 43),
                                 lambda rng: "secret_" + "abc" * 14 + "a"),
    "secrets.newrelic-user-key": _tok("NEW_RELIC_API_KEY", _c("NRAK-", UPPER32, 27),
                                      _x("NRAK-", 27)),
    "secrets.sentry-user-token": _tok("SENTRY_AUTH_TOKEN", _c("sntryu_", HEX, 64),
                                      _x("sntryu_", 64)),
    "secrets.grafana-service-account-token": _tok(
        "GRAFANA_TOKEN", lambda rng: "glsa_" + r(rng, ALNUM, 32) + "_" + r(rng, HEX, 8),
        lambda rng: "glsa_" + "x" * 32 + "_" + "0" * 8),
    "secrets.postman-api-key": _tok(
        "POSTMAN_API_KEY", lambda rng: "PMAK-" + r(rng, HEX, 24) + "-" + r(rng, HEX, 34),
        lambda rng: "PMAK-" + "0" * 24 + "-" + "0" * 34),
    "secrets.age-secret-key": _tok(
        "SOPS_AGE_KEY", _c("AGE-SECRET-KEY-1", BECH32, 58),
        lambda rng: "AGE-SECRET-KEY-1" + "Q" * 58),
    # structured
    "secrets.private-key": ((lambda rng: f'KEY = """{pem(rng)}"""\n'),
                            (lambda rng: "KEY = '''-----BEGIN RSA " + "PRIV" + "ATE KEY-----\n"
                             "...your key here...\n-----END RSA " + "PRIV" + "ATE KEY-----'''\n")),
    "secrets.jwt": _tok("SERVICE_JWT", jwt, lambda rng: jwt(rng, header={"typ": "JWT"})),
    "secrets.postgres-url": _tok("DATABASE_URL",
                                 lambda rng: _url("postgresql", r(rng, ALNUM, 18)),
                                 lambda rng: _url("postgresql", "${DB_PASSWORD}")),
    "secrets.mysql-url": _tok("MYSQL_URL", lambda rng: _url("mysql", r(rng, ALNUM, 18)),
                              lambda rng: _url("mysql", "mysql", user="mysql")),
    "secrets.mongodb-url": _tok("MONGO_URI", lambda rng: _url("mongodb+srv", r(rng, ALNUM, 18)),
                                lambda rng: _url("mongodb", "<password>")),
    "secrets.redis-url": _tok("REDIS_URL", lambda rng: _url("redis", r(rng, ALNUM, 18)),
                              lambda rng: _url("redis", "password")),
    "secrets.amqp-url": _tok("BROKER_URL", lambda rng: _url("amqps", r(rng, ALNUM, 18)),
                             lambda rng: _url("amqp", "guest", user="guest")),
    "secrets.url-password": _tok("MIRROR", lambda rng: _url("ftp", "Q" + r(rng, ALNUM, 17) + "7"),
                                 lambda rng: _url("https", "changeme")),
    "secrets.slack-webhook-url": _tok(
        "SLACK_WEBHOOK", lambda rng: "https://hooks.slack.com/services/T" + r(rng, UPPER32, 10)
        + "/B" + r(rng, UPPER32, 10) + "/" + r(rng, ALNUM, 24),
        lambda rng: "https://hooks.slack.com/services/T00000000/B00000000/" + "X" * 24),
    "secrets.discord-webhook-url": _tok(
        "DISCORD_HOOK",
        lambda rng: f"https://discord.com/api/webhooks/{rng.randrange(10**17, 10**18)}/"
        + r(rng, URLSAFE, 68), lambda rng: "https://discord.com/api/webhooks/1/" + "x" * 68),
    "secrets.sentry-dsn": _tok(
        "SENTRY_DSN", lambda rng: f"https://{r(rng, HEX, 32)}@o{rng.randrange(10**5, 10**6)}"
        f".ingest.sentry.io/{rng.randrange(10**6, 10**7)}",
        lambda rng: "https://" + "0" * 32 + "@o0.ingest.sentry.io/0"),
    "secrets.basic-auth-credentials": (
        (lambda rng: 'curl -H "Authorization: Basic '
         + base64.b64encode(f"deploy:{_password(rng)}".encode()).decode() + '" https://x\n'),
        (lambda rng: "-H 'Authorization: Basic " + base64.b64encode(b"user:password").decode()
         + "'\n")),
    "secrets.bearer-token": (
        (lambda rng: 'headers = {"Authorization": "Bearer ' + r(rng, ALNUM, 38) + '7q"}\n'),
        (lambda rng: 'curl -H "Authorization: Bearer $API_TOKEN" https://x\n')),
    "secrets.azure-storage-connection-string": _tok(
        "AZURE_CONN", lambda rng: "DefaultEndpointsProtocol=https;AccountName=ml;AccountKey="
        + _azure_key(rng) + ";EndpointSuffix=core.windows.net",
        lambda rng: "AccountName=ml;AccountKey=" + "x" * 86 + "=="),
    # context
    "secrets.aws-secret-key": _tok(
        "aws_secret_access_key", _c("", B64, 39, "Q"),
        lambda rng: "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLE" + "KEY"),
    "secrets.azure-storage-key": _tok("AZURE_STORAGE_KEY", _azure_key,
                                      lambda rng: "${AZURE_STORAGE_KEY}"),
    "secrets.azure-devops-pat": _tok("AZURE_DEVOPS_PAT",
                                     _c("", "abcdefghijklmnopqrstuvwxyz234567", 52),
                                     lambda rng: "<your-pat>"),
    "secrets.twilio-api-key": _tok("TWILIO_API_KEY", _c("SK", HEX, 32), _c("SK", "0", 32)),
    "secrets.twilio-auth-token": _tok("TWILIO_AUTH_TOKEN", _c("", HEX, 32),
                                      lambda rng: "your_auth_token"),
    "secrets.discord-bot-token": _tok("DISCORD_BOT_TOKEN", _discord,
                                      lambda rng: _discord(rng, good=False)),
    "secrets.cohere-api-key": ((lambda rng: f'co = cohere.Client("{r(rng, ALNUM, 38)}a1")\n'),
                               (lambda rng: 'co = cohere.Client(os.environ["COHERE_API_KEY"])\n')),
    "secrets.wandb-api-key": ((lambda rng: f'wandb.login(key="{r(rng, HEX, 40)}")\n'),
                              (lambda rng: assign("wandb_run_commit", r(rng, HEX, 40)))),
    "secrets.kaggle-api-key": _tok("KAGGLE_KEY", _c("", HEX, 32),
                                   lambda rng: "{{ kaggle_key }}"),
    "secrets.datadog-api-key": _tok("DD_API_KEY", _c("", HEX, 32), lambda rng: "<DD_API_KEY>"),
    "secrets.okta-api-token": _tok("OKTA_API_TOKEN", _c("00", URLSAFE, 40), _x("00", 40)),
    "secrets.generic-password": (
        (lambda rng: f"spring.datasource.password={_password(rng)}\n"),
        (lambda rng: 'password = os.environ["DB_PASSWORD"]\npassword = "changeme"\n')),
    "secrets.generic-secret": (
        (lambda rng: assign("API_CLIENT_SECRET", r(rng, ALNUM, 30) + "7q")),
        (lambda rng: assign("API_CLIENT_SECRET_SHA256", r(rng, HEX, 64)))),
    "secrets.password-hash": (
        (lambda rng: f"svc-backup:{sha_crypt(rng)}:19700:0:99999:7:::\n"),
        (lambda rng: f'LOGIN_PASSWORD_HASH = "{sha_crypt(rng)}"\n')),
    # --- command lines ---------------------------------------------------------------------------
    "secrets.curl-user-password": (
        (lambda rng: f"curl -fsS -u deploy:{_password(rng)} https://ci.internal/api\n"),
        (lambda rng: 'curl -u "$CI_USER:$CI_PASS" https://ci.internal/api\n')),
    "secrets.mysql-cli-password": (
        (lambda rng: f"mysql -h db -u app -p{_password(rng)} main < seed.sql\n"),
        (lambda rng: "mysql -h db -u app -p main < seed.sql\n")),
    "secrets.sshpass-password": (
        (lambda rng: f"sshpass -p {_password(rng)} ssh ops@10.0.0.2\n"),
        (lambda rng: "sshpass -e ssh -p 2222 ops@10.0.0.2\n")),
    "secrets.registry-login-password": (
        (lambda rng: f"podman login quay.io -u bot -p '{_password(rng)}'\n"),
        (lambda rng: "echo $TOKEN | podman login quay.io -u bot --password-stdin\n")),
    "secrets.cli-password-flag": (
        (lambda rng: f"lftp -u mirror --password {_password(rng)} sftp://files.internal\n"),
        (lambda rng: "wget --ask-password --user=bob https://files.internal/a.tgz\n")),
}
