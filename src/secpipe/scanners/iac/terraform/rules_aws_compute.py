"""AWS compute rules: EBS and instance block-device encryption (honouring account-level
default encryption and launch templates), IMDSv2, EKS endpoint/secrets/logging, ECS task
definitions (privileged containers, literal secrets in the environment) and Lambda (public
invocation, literal secrets in the environment, tracing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, Problem, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws_common import (
    MAX_POLICY_CHARS,
    Check,
    as_bool,
    as_list,
    as_str,
    first_unresolved,
    hit,
    is_world,
    literal_secret,
    redacted,
    rule,
    secret_name,
    short,
    sub_blocks,
    unresolved,
)

EBS_VOLUME = "iac.aws.ebs-volume-encryption"
EBS_DEFAULT = "iac.aws.ebs-default-encryption-disabled"
EC2_BLOCK_DEVICE = "iac.aws.ec2-block-device-encryption"
EC2_IMDSV2 = "iac.aws.ec2-imdsv2"
EKS_PUBLIC = "iac.aws.eks-public-endpoint"
EKS_SECRETS = "iac.aws.eks-secrets-encryption"
EKS_LOGGING = "iac.aws.eks-control-plane-logging"
ECS_PRIVILEGED = "iac.aws.ecs-privileged-container"
ECS_ENV_LITERAL = "iac.aws.ecs-env-secret"
LAMBDA_PUBLIC = "iac.aws.lambda-public-invoke"
LAMBDA_ENV_LITERAL = "iac.aws.lambda-env-secret"
LAMBDA_TRACING = "iac.aws.lambda-tracing"

RULES = [
    rule(
        EBS_VOLUME, "EBS volume is not encrypted",
        Severity.MEDIUM, "CWE-311", ("CIS-AWS-2.2.1", "NIST-800-53:SC-28"),
        "An unencrypted volume keeps its data, and every snapshot taken of it, in clear; "
        "snapshots are easily shared or copied out of the account.",
        "Set encrypted = true (with a kms_key_id), or enable aws_ebs_encryption_by_default "
        "for the account and region.",
        'resource "aws_ebs_volume" "data" {\n  availability_zone = "eu-west-1a"\n'
        '  size              = 100\n}',
        'resource "aws_ebs_volume" "data" {\n  availability_zone = "eu-west-1a"\n'
        '  size              = 100\n  encrypted         = true\n}\n'
        '# or, for every volume of the region:\n'
        'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}',
        ("CKV_AWS_3", "AVD-AWS-0026", "aws-ec2-enable-volume-encryption")),
    rule(
        EBS_DEFAULT, "EBS default encryption is turned off",
        Severity.MEDIUM, "CWE-311", ("CIS-AWS-2.2.1", "NIST-800-53:SC-28"),
        "aws_ebs_encryption_by_default with enabled = false lets any new volume in the region "
        "be created unencrypted.",
        "Set enabled = true (or remove the resource that turns it off).",
        'resource "aws_ebs_encryption_by_default" "x" {\n  enabled = false\n}',
        'resource "aws_ebs_encryption_by_default" "x" {\n  enabled = true\n}',
        ("CKV_AWS_106",)),
    rule(
        EC2_BLOCK_DEVICE, "EC2 instance or launch template block device is not encrypted",
        Severity.MEDIUM, "CWE-311", ("CIS-AWS-2.2.1", "NIST-800-53:SC-28"),
        "Root and data volumes of instances hold application data, logs and credentials; "
        "unencrypted they (and their snapshots) are readable by anyone who gets a copy.",
        "Set encrypted = true in root_block_device/ebs_block_device (launch templates: "
        "block_device_mappings { ebs { encrypted = \"true\" } }), or enable "
        "aws_ebs_encryption_by_default. An instance started from a launch template is judged "
        "on the template.",
        'resource "aws_instance" "app" {\n  ami           = "ami-0123456789abcdef0"\n'
        '  instance_type = "t3.micro"\n  root_block_device {\n    encrypted = false\n  }\n}',
        'resource "aws_instance" "app" {\n  ami           = "ami-0123456789abcdef0"\n'
        '  instance_type = "t3.micro"\n  root_block_device {\n    encrypted = true\n  }\n}',
        ("CKV_AWS_8", "AVD-AWS-0131", "AVD-AWS-0008", "aws-ec2-enable-at-rest-encryption",
         "aws-ec2-enable-launch-config-at-rest-encryption")),
    rule(
        EC2_IMDSV2, "EC2 instance metadata service allows IMDSv1",
        Severity.MEDIUM, "CWE-918", ("NIST-800-53:AC-3", "NIST-800-53:SC-7"),
        "IMDSv1 answers any GET from the instance, so one server-side request forgery in an "
        "application hands out the instance role's credentials; IMDSv2 requires a session "
        "token obtained with a PUT.",
        "Set metadata_options { http_tokens = \"required\" } on the instance or its launch "
        "template (or account-wide with aws_ec2_instance_metadata_defaults).",
        'resource "aws_instance" "app" {\n  ami           = "ami-0123456789abcdef0"\n'
        '  instance_type = "t3.micro"\n}',
        'resource "aws_instance" "app" {\n  ami           = "ami-0123456789abcdef0"\n'
        '  instance_type = "t3.micro"\n  metadata_options {\n'
        '    http_tokens = "required"\n  }\n}',
        ("CKV_AWS_79", "AVD-AWS-0028", "AVD-AWS-0130", "aws-ec2-enforce-http-token-imds",
         "aws-ec2-enforce-launch-config-http-token-imds")),
    rule(
        EKS_PUBLIC, "EKS API endpoint is public to the whole internet",
        Severity.HIGH, "CWE-284", ("NIST-800-53:SC-7", "NIST-800-53:AC-17"),
        "endpoint_public_access defaults to true and public_access_cidrs to 0.0.0.0/0: the "
        "Kubernetes API of the cluster is then reachable (and attackable) from anywhere.",
        "Set endpoint_public_access = false (with endpoint_private_access = true), or limit "
        "public_access_cidrs to known ranges.",
        'resource "aws_eks_cluster" "main" {\n  name     = "main"\n'
        '  role_arn = aws_iam_role.eks.arn\n  vpc_config {\n'
        '    subnet_ids = var.subnets\n  }\n}',
        'resource "aws_eks_cluster" "main" {\n  name     = "main"\n'
        '  role_arn = aws_iam_role.eks.arn\n  vpc_config {\n    subnet_ids = var.subnets\n'
        '    endpoint_private_access = true\n    endpoint_public_access  = true\n'
        '    public_access_cidrs     = ["203.0.113.0/24"]\n  }\n}',
        ("CKV_AWS_38", "CKV_AWS_39", "AVD-AWS-0040", "AVD-AWS-0041",
         "aws-eks-no-public-cluster-access", "aws-eks-no-public-cluster-access-to-cidr")),
    rule(
        EKS_SECRETS, "EKS cluster does not encrypt Kubernetes secrets with a KMS key",
        Severity.LOW, "CWE-311", ("NIST-800-53:SC-28", "NIST-800-53:SC-12"),
        "Without encryption_config for \"secrets\" the cluster's Secret objects are protected "
        "only by the encryption AWS applies by default (newer EKS versions envelope-encrypt "
        "with an AWS-owned key), with no customer key to control, audit or revoke — hence low.",
        "Add encryption_config { resources = [\"secrets\"] provider { key_arn = "
        "aws_kms_key.eks.arn } }.",
        'resource "aws_eks_cluster" "main" {\n  name     = "main"\n'
        '  role_arn = aws_iam_role.eks.arn\n  vpc_config {\n'
        '    subnet_ids = var.subnets\n  }\n}',
        'resource "aws_eks_cluster" "main" {\n  # …\n  encryption_config {\n'
        '    resources = ["secrets"]\n    provider {\n      key_arn = aws_kms_key.eks.arn\n'
        '    }\n  }\n}',
        ("CKV_AWS_58", "AVD-AWS-0039", "aws-eks-encrypt-secrets")),
    rule(
        EKS_LOGGING, "EKS control plane audit logging is not enabled",
        Severity.LOW, "CWE-778", ("NIST-800-53:AU-2", "NIST-800-53:AU-12"),
        "Without the api, audit and authenticator log types there is no record of who did "
        "what through the Kubernetes API.",
        "Set enabled_cluster_log_types = [\"api\", \"audit\", \"authenticator\", "
        "\"controllerManager\", \"scheduler\"].",
        'resource "aws_eks_cluster" "main" {\n  name     = "main"\n'
        '  role_arn = aws_iam_role.eks.arn\n  vpc_config {\n'
        '    subnet_ids = var.subnets\n  }\n}',
        'resource "aws_eks_cluster" "main" {\n  # …\n'
        '  enabled_cluster_log_types = ["api", "audit", "authenticator"]\n}',
        ("CKV_AWS_37", "AVD-AWS-0038", "aws-eks-enable-control-plane-logging")),
    rule(
        ECS_PRIVILEGED, "ECS container runs privileged",
        Severity.HIGH, "CWE-250", ("NIST-800-53:AC-6", "NIST-800-53:CM-7"),
        "A privileged container has every capability and the host's devices: escaping to the "
        "host (and to other tasks on it) is trivial.",
        "Remove \"privileged\": true; add only the Linux capabilities the container needs.",
        'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
        '  container_definitions = jsonencode([{\n    name = "app", image = "app:1.0"\n'
        '    privileged = true\n  }])\n}',
        'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
        '  container_definitions = jsonencode([{\n    name = "app", image = "app:1.0"\n'
        '    privileged = false\n  }])\n}',
        ("CKV_AWS_334",)),
    rule(
        ECS_ENV_LITERAL, "ECS task definition has a secret in a plain environment variable",
        Severity.HIGH, "CWE-798", ("NIST-800-53:IA-5", "NIST-800-53:SC-28"),
        "Environment values in container_definitions are stored in the task definition: "
        "readable with ecs:DescribeTaskDefinition, kept in every revision and in the Terraform "
        "state and code.",
        "Use the container's \"secrets\" list with valueFrom pointing at Secrets Manager or SSM "
        "Parameter Store.",
        'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
        '  container_definitions = jsonencode([{\n    name = "app", image = "app:1.0"\n'
        '    environment = [{ name = "DB_PASSWORD", value = "s3cr3t-value" }]\n  }])\n}',
        'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
        '  container_definitions = jsonencode([{\n    name = "app", image = "app:1.0"\n'
        '    secrets = [{ name = "DB_PASSWORD", valueFrom = aws_secretsmanager_secret.db.arn '
        '}]\n  }])\n}',
        ("AVD-AWS-0036", "aws-ecs-no-plaintext-secrets")),
    rule(
        LAMBDA_PUBLIC, "Lambda function can be invoked by anyone",
        Severity.HIGH, "CWE-306", ("NIST-800-53:AC-3", "NIST-800-53:IA-2"),
        "A function URL with authorization_type NONE, or a permission granting "
        "lambda:InvokeFunction to principal \"*\" without a source, lets anyone on the internet "
        "run the function (and run up its cost).",
        "Use authorization_type = \"AWS_IAM\" (authenticate inside the function if it must be "
        "public), and name the principal and source_arn/source_account in permissions.",
        'resource "aws_lambda_function_url" "api" {\n  function_name      = '
        'aws_lambda_function.api.function_name\n  authorization_type = "NONE"\n}',
        'resource "aws_lambda_function_url" "api" {\n  function_name      = '
        'aws_lambda_function.api.function_name\n  authorization_type = "AWS_IAM"\n}',
        ("CKV_AWS_258", "CKV_AWS_301")),
    rule(
        LAMBDA_ENV_LITERAL, "Lambda function has a secret in a plain environment variable",
        Severity.HIGH, "CWE-798", ("NIST-800-53:IA-5", "NIST-800-53:SC-28"),
        "Environment variables are visible to anyone with lambda:GetFunctionConfiguration and "
        "stay in the code and the Terraform state.",
        "Read the secret at run time from Secrets Manager or SSM Parameter Store (pass its ARN "
        "or name in the environment instead).",
        'resource "aws_lambda_function" "f" {\n  # …\n  environment {\n'
        '    variables = { API_TOKEN = "tok-123456789" }\n  }\n}',
        'resource "aws_lambda_function" "f" {\n  # …\n  environment {\n'
        '    variables = { API_TOKEN_ARN = aws_secretsmanager_secret.api.arn }\n  }\n}',
        ("CKV_AWS_45",)),
    rule(
        LAMBDA_TRACING, "Lambda function has X-Ray active tracing off",
        Severity.LOW, "CWE-778", ("NIST-800-53:AU-12", "NIST-800-53:SI-4"),
        "Without tracing, failures and abuse of the function are harder to follow across "
        "services.",
        "Add tracing_config { mode = \"Active\" }.",
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n  # …\n}',
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n'
        '  tracing_config {\n    mode = "Active"\n  }\n}',
        ("CKV_AWS_50", "AVD-AWS-0066", "aws-lambda-enable-tracing"),
        confidence=Confidence.HIGH),
]


# --- EBS / EC2 -------------------------------------------------------------------------------


def _default_encryption(model: TfModel) -> bool | Unresolved:
    """True when the model turns EBS default encryption on (``enabled`` defaults to true)."""
    for res in model.of_type("aws_ebs_encryption_by_default"):
        enabled = as_bool(res.body.get("enabled", True))
        if isinstance(enabled, Unresolved):
            return enabled
        if enabled is not False:
            return True
    return False


def check_ebs_default(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_ebs_encryption_by_default"):
        enabled = as_bool(res.body.get("enabled", True))
        if isinstance(enabled, Unresolved):
            yield unresolved(EBS_DEFAULT, res, "enabled", enabled)
        elif enabled is False:
            yield hit(EBS_DEFAULT, res, "enabled is false", attr="enabled",
                      evidence="enabled = false")


def _default_unknown(rule_id: str, res: TfResource, value: Unresolved) -> Problem:
    return Problem("iac.unresolved", res.path, res.line,
                   f"{rule_id}: {res.address} relies on aws_ebs_encryption_by_default whose "
                   f"enabled is {value.text}: could not be judged")


def _encrypted(block: TfBlock) -> bool | Unresolved | None:
    return as_bool(block.get("encrypted"))


def check_ebs_volume(model: TfModel) -> Iterator[IacHit | Problem]:
    by_default = _default_encryption(model)
    for res in model.of_type("aws_ebs_volume"):
        state = _encrypted(res.body)
        if state is True:
            continue
        if isinstance(state, Unresolved):
            yield unresolved(EBS_VOLUME, res, "encrypted", state)
            continue
        if by_default is True:
            continue
        if isinstance(by_default, Unresolved) and state is None:
            yield _default_unknown(EBS_VOLUME, res, by_default)
            continue
        from_snapshot = res.body.has("snapshot_id") and state is None
        yield hit(EBS_VOLUME, res,
                  "encrypted is false" if state is False else "encrypted is not set",
                  attr="encrypted" if state is False else "",
                  confidence=Confidence.LOW if from_snapshot else None)


def _device_blocks(res: TfResource) -> list[tuple[str, TfBlock]]:
    """(kind, block) of each block device an instance, launch configuration or launch
    template writes."""
    out: list[tuple[str, TfBlock]] = []
    if res.type == "aws_launch_template":
        for mapping in sub_blocks(res.body, "block_device_mappings"):
            if mapping.get("no_device") not in (None, "", False):
                continue
            for ebs in sub_blocks(mapping, "ebs"):
                out.append(("block_device_mappings.ebs", ebs))
        return out
    for kind in ("root_block_device", "ebs_block_device"):
        out.extend((kind, b) for b in sub_blocks(res.body, kind))
    return out


def check_block_devices(model: TfModel) -> Iterator[IacHit | Problem]:
    by_default = _default_encryption(model)
    for res in model.of_type("aws_instance", "aws_launch_configuration",
                             "aws_launch_template"):
        from_template = res.type == "aws_instance" and res.body.has("launch_template")
        devices = _device_blocks(res)
        for kind, block in devices:
            state = _encrypted(block)
            if state is True:
                continue
            if isinstance(state, Unresolved):
                yield unresolved(EC2_BLOCK_DEVICE, res, f"{kind}.encrypted", state, block)
                continue
            if state is None and (by_default is True or from_template):
                continue
            if state is None and block.has("snapshot_id"):
                continue
            if state is None and isinstance(by_default, Unresolved):
                yield _default_unknown(EC2_BLOCK_DEVICE, res, by_default)
                continue
            if state is False and by_default is True:
                # the account default encrypts it anyway; still worth a note at low severity
                yield hit(EC2_BLOCK_DEVICE, res,
                          f"{kind} sets encrypted = false (default encryption applies)",
                          attr="encrypted", body=block, severity=Severity.LOW)
                continue
            what = "sets encrypted = false" if state is False else "is not encrypted"
            yield hit(EC2_BLOCK_DEVICE, res, f"{kind} {what}",
                      attr="encrypted" if state is False else "", body=block)
        root_written = any(k == "root_block_device" for k, _ in devices)
        if res.type == "aws_instance" and not root_written and not from_template \
                and isinstance(by_default, Unresolved):
            yield _default_unknown(EC2_BLOCK_DEVICE, res, by_default)
        elif res.type == "aws_instance" and not root_written and not from_template \
                and by_default is False:
            yield hit(EC2_BLOCK_DEVICE, res,
                      "the root volume is not declared encrypted (root_block_device absent)",
                      confidence=Confidence.MEDIUM)


def _metadata_defaults(model: TfModel) -> bool:
    for res in model.of_type("aws_ec2_instance_metadata_defaults"):
        if as_str(res.body.get("http_tokens")) == "required":
            return True
    return False


def check_imdsv2(model: TfModel) -> Iterator[IacHit | Problem]:
    account_required = _metadata_defaults(model)
    for res in model.of_type("aws_instance", "aws_launch_template", "aws_launch_configuration"):
        options = sub_blocks(res.body, "metadata_options")
        if not options:
            if account_required:
                continue
            if res.type == "aws_instance" and res.body.has("launch_template"):
                continue  # the template decides; it is judged on its own
            yield hit(EC2_IMDSV2, res, "no metadata_options: IMDSv1 stays enabled")
            continue
        block = options[0]
        tokens = as_str(block.get("http_tokens"))
        endpoint = as_str(block.get("http_endpoint"))
        if isinstance(endpoint, str) and endpoint.lower() == "disabled":
            continue
        if isinstance(tokens, Unresolved):
            yield unresolved(EC2_IMDSV2, res, "http_tokens", tokens, block)
            continue
        if isinstance(tokens, str) and tokens.lower() == "required":
            continue
        if tokens is None and account_required:
            continue
        yield hit(EC2_IMDSV2, res,
                  f"metadata_options.http_tokens is {short(tokens) if tokens else 'not set'}"
                  " (IMDSv1 allowed)", attr="http_tokens" if tokens else "", body=block)


# --- EKS -----------------------------------------------------------------------------------


def check_eks(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_eks_cluster"):
        yield from _eks_public(res)
        configs = sub_blocks(res.body, "encryption_config")
        if not configs:
            yield hit(EKS_SECRETS, res, "no encryption_config for secrets")
        else:
            kinds = as_list(configs[0].get("resources"))
            bad = first_unresolved(kinds)
            if bad is not None:
                yield unresolved(EKS_SECRETS, res, "encryption_config.resources", bad, configs[0])
            elif "secrets" not in kinds:
                yield hit(EKS_SECRETS, res, "encryption_config does not cover \"secrets\"",
                          attr="resources", body=configs[0])
        types = res.body.get("enabled_cluster_log_types")
        missing = [t for t in ("api", "audit", "authenticator") if t not in as_list(types)]
        unknown = first_unresolved(types)
        if missing and unknown is not None:
            yield unresolved(EKS_LOGGING, res, "enabled_cluster_log_types", unknown)
        elif missing:
            yield hit(EKS_LOGGING, res, f"control plane log types {', '.join(missing)} are off",
                      attr="enabled_cluster_log_types")


def _eks_public(res: TfResource) -> Iterator[IacHit | Problem]:
    configs = sub_blocks(res.body, "vpc_config")
    block = configs[0] if configs else res.body
    public = as_bool(block.get("endpoint_public_access", True))
    if isinstance(public, Unresolved):
        yield unresolved(EKS_PUBLIC, res, "endpoint_public_access", public, block)
        return
    if public is False:
        return
    cidrs = block.get("public_access_cidrs")
    if isinstance(cidrs, Unresolved):
        yield unresolved(EKS_PUBLIC, res, "public_access_cidrs", cidrs, block)
        return
    if cidrs is None:
        yield hit(EKS_PUBLIC, res, "the API endpoint is public and public_access_cidrs is not "
                  "set (defaults to 0.0.0.0/0)",
                  attr="endpoint_public_access" if block.has("endpoint_public_access") else "",
                  body=block)
        return
    for cidr in as_list(cidrs):
        if isinstance(cidr, Unresolved):
            yield unresolved(EKS_PUBLIC, res, "public_access_cidrs", cidr, block)
            return
        if is_world(cidr) is True:
            yield hit(EKS_PUBLIC, res, f"the API endpoint is public to {short(cidr)}",
                      attr="public_access_cidrs", body=block, evidence=short(cidr))
            return


# --- ECS -----------------------------------------------------------------------------------


class _NotJson(Exception):
    pass


def _containers(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        if len(value) > MAX_POLICY_CHARS * 4:
            raise _NotJson("larger than the parse bound")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise _NotJson(f"not valid JSON ({type(exc).__name__})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _NotJson("not a list of containers")
    return [c for c in value if isinstance(c, dict)]


def check_ecs(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_ecs_task_definition"):
        value = res.body.get("container_definitions")
        if value is None:
            continue
        if isinstance(value, Unresolved):
            for rule_id in (ECS_PRIVILEGED, ECS_ENV_LITERAL):
                yield unresolved(rule_id, res, "container_definitions", value)
            continue
        try:
            containers = _containers(value)
        except _NotJson as err:
            yield Problem("iac.unresolved", res.path, res.body.line_of("container_definitions"),
                          f"{ECS_PRIVILEGED}: {res.address}.container_definitions could not "
                          f"be read ({err}): could not be judged")
            continue
        for container in containers:
            name = short(container.get("name", "?"))
            privileged = as_bool(container.get("privileged"))
            if isinstance(privileged, Unresolved):
                yield unresolved(ECS_PRIVILEGED, res, "container_definitions", privileged)
            elif privileged is True:
                yield hit(ECS_PRIVILEGED, res, f"container {name} is privileged",
                          attr="container_definitions", evidence="privileged = true")
            for env in as_list(container.get("environment")):
                if not isinstance(env, dict):
                    continue
                key = env.get("name")
                if isinstance(key, str) and secret_name(key) and \
                        literal_secret(env.get("value")):
                    yield hit(ECS_ENV_LITERAL, res,
                              f"container {name} sets {key} to a literal value",
                              attr="container_definitions", evidence=redacted(key))


# --- Lambda --------------------------------------------------------------------------------


def check_lambda(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_lambda_function_url"):
        auth = as_str(res.body.get("authorization_type"))
        if isinstance(auth, Unresolved):
            yield unresolved(LAMBDA_PUBLIC, res, "authorization_type", auth)
        elif isinstance(auth, str) and auth.upper() == "NONE":
            yield hit(LAMBDA_PUBLIC, res, "the function URL has authorization_type \"NONE\"",
                      attr="authorization_type", evidence='authorization_type = "NONE"')
    for res in model.of_type("aws_lambda_permission"):
        principal = res.body.get("principal")
        if isinstance(principal, Unresolved):
            yield unresolved(LAMBDA_PUBLIC, res, "principal", principal)
            continue
        if principal != "*":
            continue
        if res.body.get("source_arn") is not None or res.body.get("source_account") is not None \
                or res.body.get("principal_org_id") is not None:
            continue
        if res.body.get("function_url_auth_type") == "AWS_IAM":
            continue
        yield hit(LAMBDA_PUBLIC, res, "grants invocation to principal \"*\" without a source",
                  attr="principal", evidence='principal = "*"')
    for res in model.of_type("aws_lambda_function"):
        for env in sub_blocks(res.body, "environment"):
            variables = env.get("variables")
            if isinstance(variables, Unresolved):
                continue  # values supplied outside the code are what the rule asks for
            if not isinstance(variables, dict):
                continue
            for key, value in variables.items():
                if secret_name(str(key)) and literal_secret(value):
                    yield hit(LAMBDA_ENV_LITERAL, res,
                              f"environment variable {key} is set to a literal value",
                              attr="variables", body=env, evidence=redacted(str(key)))
        tracing = sub_blocks(res.body, "tracing_config")
        mode = as_str(tracing[0].get("mode")) if tracing else None
        if isinstance(mode, Unresolved):
            yield unresolved(LAMBDA_TRACING, res, "tracing_config.mode", mode, tracing[0])
        elif not (isinstance(mode, str) and mode.lower() == "active"):
            yield hit(LAMBDA_TRACING, res,
                      f"tracing_config.mode is {short(mode)}" if mode else
                      "no tracing_config (X-Ray tracing off)",
                      attr="mode" if mode else "", body=tracing[0] if tracing else None)


CHECKS: list[Check] = [check_ebs_default, check_ebs_volume, check_block_devices, check_imdsv2,
                       check_eks, check_ecs, check_lambda]
