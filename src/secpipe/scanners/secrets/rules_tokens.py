"""Format rules for tokens with an issuer prefix: cloud, VCS, registries, chat, payment, AI, SaaS.

Each expression encodes the issuer's prefix, charset and length; checksums are verified where the
issuer defines one (GitHub and npm tokens end in a base62 CRC32 of their random part).
"""

from __future__ import annotations

import re

from secpipe.core.findings import Severity
from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import R_URLSAFE, L, R, Rule, Validator, rx

C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM


def _plausible(min_entropy: float) -> Validator:
    def check(secret: str, m: re.Match[str]) -> bool:
        return (
            not checks.is_placeholder(secret)
            and not checks.is_documented_example(secret)
            and checks.entropy(secret) >= min_entropy
        )

    return check


def _and(first: Validator, second: Validator) -> Validator:
    return lambda s, m: first(s, m) and second(s, m)


def tok(
    id: str, title: str, severity: Severity, keywords: tuple[str, ...], pattern: str, *,
    category: str, validate: Validator | None = None, after: int = 128, before: int = 0,
    min_entropy: float = 3.0,
) -> Rule:
    """A prefix-token rule; ``validate`` adds to the placeholder/example/entropy checks."""
    check = _plausible(min_entropy)
    return Rule(id=id, title=title, severity=severity, keywords=keywords, pattern=rx(pattern),
                validate=_and(check, validate) if validate else check, after=after,
                before=before, category=category)


def _crc(prefix_len: int) -> Validator:
    return lambda s, m: checks.crc32_base62(s, prefix_len)


def _github(id: str, title: str, prefix: str) -> Rule:
    return tok(id, title, C, (prefix,), L + prefix + r"[A-Za-z0-9]{36}" + R, category="vcs",
               validate=_crc(len(prefix)))


def _pypi(secret: str, m: re.Match[str]) -> bool:
    raw = checks.b64url_decode(secret[5:])
    return raw is not None and b"pypi.org" in raw[:32]


def _azure_ad(secret: str, m: re.Match[str]) -> bool:
    return checks.char_classes(secret) >= 3


RULES: tuple[Rule, ...] = (
    # --- cloud ---------------------------------------------------------------------------------
    tok("aws-access-key", "AWS access key id", C, ("akia", "asia", "abia", "acca"),
        r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Z0-9])", category="cloud"),
    tok("gcp-api-key", "Google Cloud API key", H, ("aiza",),
        L + r"AIza[A-Za-z0-9_-]{35}" + R_URLSAFE, category="cloud"),
    tok("google-oauth-client-secret", "Google OAuth client secret", H, ("gocspx-",),
        L + r"GOCSPX-[A-Za-z0-9_-]{28}" + R_URLSAFE, category="cloud"),
    tok("azure-ad-client-secret", "Azure AD (Entra ID) client secret", H, ("q~",),
        r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
        category="cloud", validate=_azure_ad, before=5),
    tok("alibaba-access-key", "Alibaba Cloud access key id", H, ("ltai",),
        L + r"LTAI[A-Za-z0-9]{12,20}" + R, category="cloud"),
    tok("digitalocean-token", "DigitalOcean token", H, ("dop_v1_", "doo_v1_", "dor_v1_"),
        L + r"do[por]_v1_[a-f0-9]{64}" + R, category="cloud"),
    tok("heroku-api-key", "Heroku API key", H, ("hrku-",),
        L + r"HRKU-[A-Za-z0-9_-]{58,60}" + R_URLSAFE, category="cloud"),
    tok("databricks-token", "Databricks access token", H, ("dapi",),
        L + r"dapi[a-f0-9]{32}(?:-[0-9])?" + R, category="cloud"),
    tok("hashicorp-vault-token", "HashiCorp Vault token", H, ("hvs.", "hvb."),
        L + r"hv[sb]\.[A-Za-z0-9_-]{90,120}" + R_URLSAFE, category="cloud", after=140),
    tok("pulumi-access-token", "Pulumi access token", H, ("pul-",),
        L + r"pul-[a-f0-9]{40}" + R, category="cloud"),
    tok("doppler-token", "Doppler token", H, ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct."),
        L + r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}" + R, category="cloud"),
    tok("supabase-token", "Supabase access token", H, ("sbp_",),
        L + r"sbp_[a-f0-9]{40}" + R, category="cloud"),
    # --- version control -----------------------------------------------------------------------
    _github("github-pat", "GitHub personal access token", "ghp_"),
    _github("github-oauth-token", "GitHub OAuth access token", "gho_"),
    _github("github-app-server-token", "GitHub App installation token", "ghs_"),
    _github("github-app-user-token", "GitHub App user token", "ghu_"),
    _github("github-refresh-token", "GitHub refresh token", "ghr_"),
    tok("github-fine-grained-pat", "GitHub fine-grained personal access token", C,
        ("github_pat_",), L + r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}" + R, category="vcs"),
    tok("gitlab-pat", "GitLab personal access token", H, ("glpat-",),
        L + r"glpat-[A-Za-z0-9_.-]{20,64}" + R_URLSAFE, category="vcs"),
    tok("gitlab-pipeline-trigger-token", "GitLab pipeline trigger token", H, ("glptt-",),
        L + r"glptt-[a-f0-9]{40}" + R, category="vcs"),
    tok("gitlab-runner-token", "GitLab runner token", H, ("glrt-",),
        L + r"glrt-[A-Za-z0-9_-]{20,64}" + R_URLSAFE, category="vcs"),
    tok("bitbucket-app-password", "Bitbucket app password", H, ("atbb",),
        L + r"ATBB[A-Za-z0-9_=.-]{32,64}" + R_URLSAFE, category="vcs"),
    tok("atlassian-api-token", "Atlassian (Jira/Confluence) API token", H, ("atatt3",),
        L + r"ATATT3[A-Za-z0-9_=-]{170,250}" + R_URLSAFE, category="vcs", after=260),
    # --- package registries --------------------------------------------------------------------
    tok("npm-token", "npm access token", H, ("npm_",), L + r"npm_[A-Za-z0-9]{36}" + R,
        category="registry", validate=_crc(4)),
    tok("pypi-token", "PyPI API token", H, ("pypi-ag",),
        L + r"pypi-Ag[A-Za-z0-9_-]{50,400}" + R_URLSAFE, category="registry", validate=_pypi,
        after=420),
    tok("dockerhub-pat", "Docker Hub personal access token", H, ("dckr_pat_", "dckr_oat_"),
        L + r"dckr_[op]at_[A-Za-z0-9_-]{27,40}" + R_URLSAFE, category="registry"),
    tok("rubygems-api-key", "RubyGems API key", H, ("rubygems_",),
        L + r"rubygems_[a-f0-9]{48}" + R, category="registry"),
    # --- chat ----------------------------------------------------------------------------------
    tok("slack-bot-token", "Slack bot token", H, ("xoxb-",),
        L + r"xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34}" + R, category="chat"),
    tok("slack-user-token", "Slack user token", H, ("xoxp-", "xoxe-"),
        L + r"xox[pe]-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{28,64}" + R,
        category="chat"),
    tok("slack-legacy-token", "Slack legacy or workspace token", H, ("xoxa-", "xoxs-", "xoxo-"),
        L + r"xox[aso]-(?:[0-9]+-){2,3}[A-Za-z0-9]{28,64}" + R, category="chat"),
    tok("slack-app-token", "Slack app-level token", H, ("xapp-",),
        L + r"xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-[a-f0-9]{32,64}" + R, category="chat"),
    tok("telegram-bot-token", "Telegram bot token", H, (":aa",),
        r"(?<![0-9])(?P<s>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})" + R_URLSAFE, category="chat",
        before=12, after=48),
    # --- payment and commerce ------------------------------------------------------------------
    tok("stripe-secret-key", "Stripe live secret key", C, ("sk_live_",),
        L + r"sk_live_[A-Za-z0-9]{24,247}" + R, category="payment", after=260),
    tok("stripe-restricted-key", "Stripe live restricted key", H, ("rk_live_",),
        L + r"rk_live_[A-Za-z0-9]{24,247}" + R, category="payment", after=260),
    tok("square-access-token", "Square access token", H, ("eaaa", "sq0atp-"),
        L + r"(?:EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22})" + R_URLSAFE,
        category="payment"),
    tok("square-oauth-secret", "Square OAuth secret", H, ("sq0csp-",),
        L + r"sq0csp-[A-Za-z0-9_-]{43}" + R_URLSAFE, category="payment"),
    tok("braintree-access-token", "Braintree access token", H, ("access_token$production$",),
        L + r"access_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}" + R, category="payment"),
    tok("shopify-access-token", "Shopify access token", H, ("shpat_", "shpca_", "shppa_"),
        L + r"shp(?:at|ca|pa)_[a-fA-F0-9]{32}" + R, category="payment"),
    tok("shopify-shared-secret", "Shopify shared secret", H, ("shpss_",),
        L + r"shpss_[a-fA-F0-9]{32}" + R, category="payment"),
    # --- AI providers --------------------------------------------------------------------------
    tok("openai-api-key", "OpenAI API key", C, ("t3blbkfj",),
        r"(?<![A-Za-z0-9_-])(?P<s>sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{16,160}T3BlbkFJ"
        r"[A-Za-z0-9_-]{16,160})" + R_URLSAFE, category="ai", before=180, after=200),
    tok("anthropic-api-key", "Anthropic API key", C, ("sk-ant-",),
        L + r"sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,100}AA" + R_URLSAFE, category="ai"),
    tok("huggingface-token", "Hugging Face access token", H, ("hf_",),
        L + r"hf_[A-Za-z]{34}" + R, category="ai", min_entropy=3.5),
    tok("huggingface-org-token", "Hugging Face organization token", H, ("api_org_",),
        L + r"api_org_[A-Za-z]{34}" + R, category="ai", min_entropy=3.5),
    tok("replicate-api-token", "Replicate API token", H, ("r8_",),
        L + r"r8_[A-Za-z0-9]{37}" + R, category="ai"),
    tok("groq-api-key", "Groq API key", H, ("gsk_",), L + r"gsk_[A-Za-z0-9]{52}" + R,
        category="ai"),
    tok("langsmith-api-key", "LangSmith API key", H, ("lsv2_",),
        L + r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + R, category="ai"),
    # --- other SaaS ----------------------------------------------------------------------------
    tok("sendgrid-api-key", "SendGrid API key", H, ("sg.",),
        L + r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + R_URLSAFE, category="saas"),
    tok("mailgun-api-key", "Mailgun API key", H, ("key-",), L + r"key-[a-f0-9]{32}" + R,
        category="saas"),
    tok("mailchimp-api-key", "Mailchimp API key", H, ("-us",),
        L + r"(?P<s>[a-f0-9]{32}-us[0-9]{1,2})" + R, category="saas", before=34, after=8),
    tok("linear-api-key", "Linear API key", H, ("lin_api_",),
        L + r"lin_api_[A-Za-z0-9]{40}" + R, category="saas"),
    tok("notion-token", "Notion integration token", H, ("secret_", "ntn_"),
        L + r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{46})" + R, category="saas",
        validate=lambda s, m: checks.char_classes(s) >= 3),
    tok("newrelic-user-key", "New Relic user API key", H, ("nrak-",),
        L + r"NRAK-[A-Z0-9]{27}" + R, category="saas"),
    tok("sentry-user-token", "Sentry auth token", H, ("sntryu_",),
        L + r"sntryu_[a-f0-9]{64}" + R, category="saas"),
    tok("grafana-service-account-token", "Grafana service account token", H, ("glsa_",),
        L + r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}" + R, category="saas"),
    tok("postman-api-key", "Postman API key", H, ("pmak-",),
        L + r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + R, category="saas"),
    tok("age-secret-key", "age encryption secret key", C, ("age-secret-key-1",),
        L + r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}" + R, category="saas"),
)  # fmt: skip
