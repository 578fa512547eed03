"""The credential kinds planted in the corpus: generator, the variable a developer would name it
after, and realistic usage snippets per file type (``{s}`` is the secret)."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

import tokens as t

Gen = Callable[[random.Random], str]

#: file types where a one-line secret is written as an assignment
LINE_EXTS = (
    "py",
    "js",
    "go",
    "yaml",
    "json",
    "env",
    "tf",
    "dockerfile",
    "md",
    "sh",
    "ini",
    "properties",
    "toml",
)
#: file types that can hold a multi-line PEM block verbatim
MULTILINE_EXTS = ("pem", "py", "sh", "go", "js")
UPPER_DIGITS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Kind:
    """One credential kind."""

    name: str
    """Label kind id, e.g. ``github-pat-classic``."""
    gen: Gen
    """Returns a fresh format-valid secret."""
    var: str
    """The environment-style name a developer would store it under."""
    snippets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per file type, usage lines other than a plain assignment (``{s}`` = secret)."""
    exts: tuple[str, ...] = LINE_EXTS
    """File types this kind may be planted in."""
    multiline: bool = False
    """The secret spans lines (PEM)."""


def _c(prefix: str, alphabet: str, n: int, suffix: str = "") -> Gen:
    return lambda rng: prefix + t.rand(rng, alphabet, n) + suffix


def _gh(prefix: str) -> Gen:
    return lambda rng: t.crc32_token(prefix, t.rand(rng, t.ALNUM, 30))


def _fine_grained(rng: random.Random) -> str:
    return "github_pat_11" + t.rand(rng, t.UPPER_B32 + "0", 20) + "_" + t.rand(rng, t.ALNUM, 59)


def _slack_bot(rng: random.Random) -> str:
    a, b = rng.randrange(10**11, 10**12), rng.randrange(10**12, 10**13)
    return f"xoxb-{a}-{b}-{t.rand(rng, t.ALNUM, 24)}"


def _slack_user(rng: random.Random) -> str:
    nums = [rng.randrange(10**11, 10**12) for _ in range(3)]
    return "xoxp-" + "-".join(map(str, nums)) + "-" + t.rand(rng, t.HEX, 32)


def _slack_legacy(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"xoxa-2-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-" + (
            t.rand(rng, t.HEX, 32)
        )
    return f"xoxs-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-" + (
        f"{rng.randrange(10**11, 10**12)}-" + t.rand(rng, t.HEX, 64)
    )


def _slack_app(rng: random.Random) -> str:
    return f"xapp-1-A{t.rand(rng, t.UPPER_B32, 10)}-{rng.randrange(10**12, 10**13)}-" + t.rand(
        rng, t.HEX, 64
    )


def _slack_webhook(rng: random.Random) -> str:
    return (
        "https://hooks.slack.com/services/T"
        + t.rand(rng, UPPER_DIGITS, 10)
        + "/B"
        + t.rand(rng, UPPER_DIGITS, 10)
        + "/"
        + t.rand(rng, t.ALNUM, 24)
    )


def _discord_webhook(rng: random.Random) -> str:
    return f"https://discord.com/api/webhooks/{rng.randrange(10**17, 10**18)}/" + t.rand(
        rng, t.URLSAFE, 68
    )


def _telegram(rng: random.Random) -> str:
    return f"{rng.randrange(10**9, 8 * 10**9)}:AA{t.rand(rng, t.URLSAFE, 33)}"


def _sendgrid(rng: random.Random) -> str:
    return "SG." + t.rand(rng, t.URLSAFE, 22) + "." + t.rand(rng, t.URLSAFE, 43)


def _mailchimp(rng: random.Random) -> str:
    return t.rand(rng, t.HEX, 32) + f"-us{rng.randrange(1, 21)}"


def _braintree(rng: random.Random) -> str:
    return f"access_token$production${t.rand(rng, t.LOWER_DIGITS, 16)}$" + (t.rand(rng, t.HEX, 32))


def _atlassian(rng: random.Random) -> str:
    return "ATATT3xFfGF0" + t.rand(rng, t.URLSAFE, 171) + "=" + t.rand(rng, "0123456789ABCDEF", 8)


def _azure_ad(rng: random.Random) -> str:
    return (
        t.rand(rng, t.ALNUM, 3) + str(rng.randrange(10)) + "Q~" + t.rand(rng, t.ALNUM + "_~.-", 34)
    )


def _grafana_sa(rng: random.Random) -> str:
    return "glsa_" + t.rand(rng, t.ALNUM, 32) + "_" + t.rand(rng, t.HEX, 8)


def _postman(rng: random.Random) -> str:
    return "PMAK-" + t.rand(rng, t.HEX, 24) + "-" + t.rand(rng, t.HEX, 34)


def _langsmith(rng: random.Random) -> str:
    return "lsv2_pt_" + t.rand(rng, t.HEX, 32) + "_" + t.rand(rng, t.HEX, 10)


def _host(rng: random.Random) -> str:
    return rng.choice(
        [
            "db.prod.internal",
            "10.20.3.14",
            "pg-main.c7x2k.eu-west-1.rds.amazonaws.com",
            "mysql-analytics.corp.net",
            "cache-01.internal",
        ]
    )


def _url(scheme: str, port: int, path: str) -> Gen:
    def gen(rng: random.Random) -> str:
        user = rng.choice(["app", "svc_ml", "etl", "admin", "feature_store"])
        return f"{scheme}://{user}:{t.db_password(rng)}@{_host(rng)}:{port}/{path}"

    return gen


def _mongo(rng: random.Random) -> str:
    return (
        f"mongodb+srv://trainer:{t.db_password(rng)}@cluster0.{t.rand(rng, t.LOWER_DIGITS, 5)}"
        ".mongodb.net/experiments?retryWrites=true&w=majority"
    )


def _redis(rng: random.Random) -> str:
    return f"redis://default:{t.db_password(rng)}@{_host(rng)}:6379/0"


def _sentry_dsn(rng: random.Random) -> str:
    return (
        f"https://{t.rand(rng, t.HEX, 32)}@o{rng.randrange(10**5, 10**7)}.ingest.sentry.io/"
        f"{rng.randrange(10**6, 10**7)}"
    )


PY_CLIENT = 'client = {cls}(api_key="{{s}}")'

KINDS: tuple[Kind, ...] = (
    Kind("aws-access-key-id", _c("AKIA", t.UPPER_B32, 16), "AWS_ACCESS_KEY_ID"),
    Kind(
        "aws-secret-access-key",
        _c("", t.B64, 40),
        "AWS_SECRET_ACCESS_KEY",
        {"ini": ("aws_secret_access_key = {s}",)},
    ),
    Kind(
        "gcp-service-account-key",
        t.pkcs8_private_key,
        "private_key",
        exts=("sa-json",),
        multiline=True,
    ),
    Kind("gcp-api-key", _c("AIza", t.URLSAFE, 35), "GOOGLE_API_KEY"),
    Kind("google-oauth-client-secret", _c("GOCSPX-", t.URLSAFE, 28), "GOOGLE_CLIENT_SECRET"),
    Kind("azure-storage-account-key", t.azure_storage_key, "AZURE_STORAGE_KEY"),
    Kind(
        "azure-storage-connection-string",
        lambda r: (
            "DefaultEndpointsProtocol=https;AccountName=mlartifacts"
            f"{r.randrange(100)};AccountKey={t.azure_storage_key(r)};EndpointSuffix=core.windows.net"
        ),
        "AZURE_STORAGE_CONNECTION_STRING",
    ),
    Kind("azure-ad-client-secret", _azure_ad, "AZURE_CLIENT_SECRET"),
    Kind("azure-devops-pat", _c("", "abcdefghijklmnopqrstuvwxyz234567", 52), "AZURE_DEVOPS_PAT"),
    Kind("github-pat-classic", _gh("ghp_"), "GITHUB_TOKEN"),
    Kind("github-pat-fine-grained", _fine_grained, "GH_PAT"),
    Kind("github-oauth-token", _gh("gho_"), "GITHUB_OAUTH_TOKEN"),
    Kind("github-app-server-token", _gh("ghs_"), "GITHUB_APP_TOKEN"),
    Kind("github-app-user-token", _gh("ghu_"), "GH_USER_TOKEN"),
    Kind("github-refresh-token", _gh("ghr_"), "GITHUB_REFRESH_TOKEN"),
    Kind("gitlab-pat", _c("glpat-", t.URLSAFE, 20), "GITLAB_TOKEN"),
    Kind("gitlab-pipeline-trigger-token", _c("glptt-", t.HEX, 40), "GITLAB_TRIGGER_TOKEN"),
    Kind("bitbucket-app-password", _c("ATBB", t.ALNUM, 32), "BITBUCKET_APP_PASSWORD"),
    Kind(
        "npm-token",
        lambda r: t.crc32_token("npm_", t.rand(r, t.ALNUM, 30)),
        "NPM_TOKEN",
        {"ini": ("//registry.npmjs.org/:_authToken={s}",)},
    ),
    Kind("pypi-token", t.pypi_token, "PYPI_API_TOKEN", {"ini": ("password = {s}",)}),
    Kind("dockerhub-pat", _c("dckr_pat_", t.URLSAFE, 27), "DOCKERHUB_TOKEN"),
    Kind("slack-bot-token", _slack_bot, "SLACK_BOT_TOKEN"),
    Kind("slack-user-token", _slack_user, "SLACK_USER_TOKEN"),
    Kind("slack-legacy-token", _slack_legacy, "SLACK_LEGACY_TOKEN"),
    Kind("slack-app-token", _slack_app, "SLACK_APP_TOKEN"),
    Kind("slack-webhook-url", _slack_webhook, "SLACK_WEBHOOK_URL"),
    Kind("discord-bot-token", t.discord_bot_token, "DISCORD_BOT_TOKEN"),
    Kind("discord-webhook-url", _discord_webhook, "DISCORD_WEBHOOK"),
    Kind("telegram-bot-token", _telegram, "TELEGRAM_BOT_TOKEN"),
    Kind("twilio-api-key", _c("SK", t.HEX, 32), "TWILIO_API_KEY"),
    Kind(
        "twilio-auth-token",
        _c("", t.HEX, 32),
        "TWILIO_AUTH_TOKEN",
        {"py": ('twilio_client = Client("AC8d1f0b6c2e4a9f7b3c5d1e2f4a6b8c9d", "{s}")',)},
    ),
    Kind("sendgrid-api-key", _sendgrid, "SENDGRID_API_KEY"),
    Kind("mailgun-api-key", _c("key-", t.HEX, 32), "MAILGUN_API_KEY"),
    Kind("mailchimp-api-key", _mailchimp, "MAILCHIMP_API_KEY"),
    Kind("stripe-secret-key", _c("sk_live_51", t.ALNUM, 97), "STRIPE_SECRET_KEY"),
    Kind("stripe-restricted-key", _c("rk_live_51", t.ALNUM, 97), "STRIPE_RESTRICTED_KEY"),
    Kind("square-access-token", _c("EAAA", t.URLSAFE, 60), "SQUARE_ACCESS_TOKEN"),
    Kind("square-oauth-secret", _c("sq0csp-", t.URLSAFE, 43), "SQUARE_OAUTH_SECRET"),
    Kind("braintree-access-token", _braintree, "BRAINTREE_ACCESS_TOKEN"),
    Kind("shopify-access-token", _c("shpat_", t.HEX, 32), "SHOPIFY_ACCESS_TOKEN"),
    Kind("shopify-shared-secret", _c("shpss_", t.HEX, 32), "SHOPIFY_SHARED_SECRET"),
    Kind(
        "openai-project-key",
        t.openai_project_key,
        "OPENAI_API_KEY",
        {"py": (PY_CLIENT.format(cls="OpenAI"),)},
    ),
    Kind("openai-legacy-key", t.openai_legacy_key, "OPENAI_KEY"),
    Kind(
        "anthropic-api-key",
        t.anthropic_key,
        "ANTHROPIC_API_KEY",
        {"py": (PY_CLIENT.format(cls="anthropic.Anthropic"),)},
    ),
    Kind(
        "huggingface-token",
        _c("hf_", string.ascii_letters, 34),
        "HF_TOKEN",
        {
            "py": ('login(token="{s}")', 'api = HfApi(token="{s}")'),
            "sh": ("huggingface-cli login --token {s}",),
        },
    ),
    Kind(
        "huggingface-org-token", _c("api_org_", string.ascii_letters, 34), "HUGGINGFACE_ORG_TOKEN"
    ),
    Kind(
        "cohere-api-key",
        _c("", t.ALNUM, 40),
        "COHERE_API_KEY",
        {"py": ('co = cohere.Client("{s}")',)},
    ),
    Kind("replicate-api-token", _c("r8_", t.ALNUM, 37), "REPLICATE_API_TOKEN"),
    Kind("groq-api-key", _c("gsk_", t.ALNUM, 52), "GROQ_API_KEY"),
    Kind(
        "wandb-api-key",
        _c("", t.HEX, 40),
        "WANDB_API_KEY",
        {"py": ('wandb.login(key="{s}")',), "sh": ("wandb login {s}",)},
    ),
    Kind("langsmith-api-key", _langsmith, "LANGCHAIN_API_KEY"),
    Kind("kaggle-api-key", _c("", t.HEX, 32), "KAGGLE_KEY"),
    Kind("databricks-token", _c("dapi", t.HEX, 32), "DATABRICKS_TOKEN"),
    Kind("heroku-api-key", _c("HRKU-AA", t.URLSAFE, 58), "HEROKU_API_KEY"),
    Kind("digitalocean-pat", _c("dop_v1_", t.HEX, 64), "DIGITALOCEAN_TOKEN"),
    Kind("linear-api-key", _c("lin_api_", t.ALNUM, 40), "LINEAR_API_KEY"),
    Kind("notion-token", _c("secret_", t.ALNUM, 43), "NOTION_TOKEN"),
    Kind("atlassian-api-token", _atlassian, "JIRA_API_TOKEN"),
    Kind(
        "okta-api-token",
        _c("00", t.URLSAFE, 40),
        "OKTA_API_TOKEN",
        {"sh": ('curl -H "Authorization: SSWS {s}" https://corp.okta.com/api/v1/users',)},
    ),
    Kind("newrelic-user-key", _c("NRAK-", UPPER_DIGITS, 27), "NEW_RELIC_API_KEY"),
    Kind("datadog-api-key", _c("", t.HEX, 32), "DD_API_KEY"),
    Kind("sentry-dsn", _sentry_dsn, "SENTRY_DSN"),
    Kind("sentry-user-token", _c("sntryu_", t.HEX, 64), "SENTRY_AUTH_TOKEN"),
    Kind("grafana-service-account-token", _grafana_sa, "GRAFANA_TOKEN"),
    Kind("postman-api-key", _postman, "POSTMAN_API_KEY"),
    Kind("hashicorp-vault-token", _c("hvs.", t.URLSAFE, 92), "VAULT_TOKEN"),
    Kind("pulumi-access-token", _c("pul-", t.HEX, 40), "PULUMI_ACCESS_TOKEN"),
    Kind("doppler-token", _c("dp.pt.", t.ALNUM, 43), "DOPPLER_TOKEN"),
    Kind("supabase-service-token", _c("sbp_", t.HEX, 40), "SUPABASE_ACCESS_TOKEN"),
    Kind(
        "age-secret-key",
        _c("AGE-SECRET-KEY-1", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
        "SOPS_AGE_KEY",
    ),
    Kind(
        "jwt",
        t.jwt,
        "SERVICE_JWT",
        {"sh": ('curl -H "Authorization: Bearer {s}" https://api.corp.example/v1/jobs',)},
    ),
    Kind("postgres-url", _url("postgresql", 5432, "features"), "DATABASE_URL"),
    Kind("mysql-url", _url("mysql", 3306, "analytics"), "MYSQL_URL"),
    Kind("mongodb-url", _mongo, "MONGO_URI"),
    Kind("redis-url", _redis, "REDIS_URL"),
    Kind("amqp-url", _url("amqps", 5671, "jobs"), "CELERY_BROKER_URL"),
    Kind(
        "generic-password",
        t.human_password,
        "DB_PASSWORD",
        {
            "properties": ("spring.datasource.password={s}",),
            "yaml": ("password: {s}",),
            "json": ('"password": "{s}"',),
        },
    ),
    Kind("generic-api-secret", _c("", t.ALNUM, 32), "API_CLIENT_SECRET"),
    Kind("private-key-rsa", t.rsa_private_key, "RSA_KEY", exts=MULTILINE_EXTS, multiline=True),
    Kind("private-key-pkcs8", t.pkcs8_private_key, "TLS_KEY", exts=MULTILINE_EXTS, multiline=True),
    Kind("private-key-ec", t.ec_private_key, "EC_KEY", exts=MULTILINE_EXTS, multiline=True),
    Kind(
        "private-key-openssh",
        t.openssh_private_key,
        "DEPLOY_KEY",
        exts=MULTILINE_EXTS,
        multiline=True,
    ),
    Kind("private-key-pgp", t.pgp_private_key, "PGP_KEY", exts=MULTILINE_EXTS, multiline=True),
)

KIND_BY_NAME = {k.name: k for k in KINDS}
