"""The model scanner's rules and the collector that turns observations into findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from secpipe.core.findings import Confidence, Finding, Location, Severity

SCANNER = "scan-models"

_DESER = ("CWE-502", "OWASP-LLM05", "ATLAS:AML.T0010", "ATLAS:AML.T0011")
_RESAVE = ("Do not load this file. Re-save the weights as safetensors (or the format's safe "
           "mode) from a trusted source, and verify its origin.")
_CONFIG_TAGS = ("CWE-94", "CWE-502", "OWASP-LLM05", "ATLAS:AML.T0010")
_TORCHSCRIPT_TAGS = ("CWE-502", "CWE-94", "OWASP-LLM05", "ATLAS:AML.T0010")
_TORCHSCRIPT_FIX = ("Do not load this archive with torch.jit.load; re-export the model from a "
                    "trusted source (safetensors weights plus reviewed code).")


@dataclass(frozen=True)
class Rule:
    """One rule of the model scanner."""

    title: str
    """Short title."""
    tags: tuple[str, ...]
    """CWE / OWASP / ATLAS tags."""
    remediation: str
    """What to do."""


RULES: dict[str, Rule] = {
    "models.pickle.dangerous-callable": Rule(
        "Pickle invokes a code-execution primitive", _DESER, _RESAVE),
    "models.pickle.unknown-callable": Rule(
        "Pickle imports a callable outside the allowlist", _DESER,
        "Check where this callable comes from. If it is legitimate for your model, add it to the "
        "step's `allow` list; otherwise re-save the weights as safetensors."),
    "models.pickle.unresolved-name": Rule(
        "Pickle assembles a global's name at load time", _DESER, _RESAVE),
    "models.pickle.dynamic-call": Rule(
        "Pickle calls a value computed at load time", _DESER, _RESAVE),
    "models.pickle.unknown-extension": Rule(
        "Pickle uses an extension-registry code", _DESER, _RESAVE),
    "models.pickle.setstate-injection": Rule(
        "Pickle BUILD sets a special attribute", _DESER, _RESAVE),
    "models.pickle.broken-stream": Rule(
        "Pickle stream is broken (the loader runs it up to the break)", _DESER,
        "Treat the file as hostile: a loader executes every opcode before the break. Re-save "
        "from a trusted source."),
    "models.pickle.trailing-data": Rule(
        "Data after the end of a pickle stream", ("CWE-502",),
        "Re-save the file; trailing data can hide a second payload from scanners."),
    "models.pickle.unsafe-format": Rule(
        "Model is stored in a pickle-based format", ("CWE-502", "OWASP-LLM05"),
        "Prefer a format that cannot carry code: safetensors for tensors, skops or ONNX for "
        "estimators. Load pickles only from a verified (signed) source."),
    "models.keras.lambda-layer": Rule(
        "Keras model contains a Lambda layer (serialized Python code)", ("CWE-94", "OWASP-LLM05",
                                                                          "ATLAS:AML.T0010"),
        "Replace the Lambda layer with a registered custom layer, and load with safe_mode=True."),
    "models.keras.unsafe-object": Rule(
        "Keras config references a dangerous module or function", ("CWE-94", "CWE-502",
                                                                    "ATLAS:AML.T0010"),
        "Do not load this model; rebuild it from code you trust."),
    "models.keras.custom-object": Rule(
        "Keras config references a module outside Keras", ("CWE-94", "ATLAS:AML.T0010"),
        "Check the custom module; load with safe_mode=True and explicit custom_objects."),
    "models.savedmodel.file-io-op": Rule(
        "SavedModel graph touches files", ("CWE-73", "ATLAS:AML.T0010"),
        "Remove file operations from the serving graph; re-export the model from trusted code."),
    "models.savedmodel.python-op": Rule(
        "SavedModel graph calls back into Python", ("CWE-94", "ATLAS:AML.T0010"),
        "Re-export the model without py_function / numpy_function ops."),
    "models.onnx.external-data-escape": Rule(
        "ONNX external data points outside the model folder", ("CWE-22", "ATLAS:AML.T0010"),
        "Keep external tensors next to the model with plain relative names; re-export it."),
    "models.onnx.unknown-domain": Rule(
        "ONNX node from an unknown operator domain", ("CWE-829", "ATLAS:AML.T0010"),
        "Custom operator domains need a native library to load: verify it, or re-export with "
        "standard operators."),
    "models.gguf.template-injection": Rule(
        "GGUF chat template reaches Python object internals", ("CWE-1336", "OWASP-LLM05",
                                                               "ATLAS:AML.T0010"),
        "Replace the chat template with a reviewed one; render templates only in a sandbox."),
    "models.gguf.malformed": Rule(
        "GGUF header is malformed", ("CWE-20",), "Re-download or re-convert the model."),
    "models.safetensors.bad-offsets": Rule(
        "safetensors tensor offsets overlap or leave the file", ("CWE-20", "CWE-787"),
        "Re-download or re-save the file with the safetensors library."),
    "models.safetensors.bad-header": Rule(
        "safetensors header is malformed", ("CWE-20",),
        "Re-download or re-save the file with the safetensors library."),
    "models.safetensors.oversized-header": Rule(
        "safetensors header is oversized", ("CWE-400", "CWE-20"),
        "Reject the file: the reference parser refuses headers over 100 MB."),
    "models.numpy.object-array": Rule(
        "NumPy file holds a pickled object array", _DESER,
        "Load with allow_pickle=False; re-save numeric arrays without object dtype."),
    "models.archive.path-traversal": Rule(
        "Archive member escapes the extraction folder", ("CWE-22",),
        "Never extract this archive; rebuild it with relative member names."),
    "models.archive.link": Rule(
        "Archive contains a symbolic or hard link", ("CWE-59",),
        "Never extract this archive; rebuild it without links."),
    "models.archive.bomb": Rule(
        "Archive member has a decompression-bomb ratio", ("CWE-409",),
        "Reject the archive."),
    "models.archive.inconsistent": Rule(
        "Archive headers disagree with each other", ("CWE-20", "CWE-502"),
        "Readers disagree about this archive's content: re-create it with a standard tool."),
    "models.scan-incomplete": Rule(
        "Model file could not be fully analysed", ("CWE-502",),
        "Raise the scanner's budget for this file, or review it by hand; it was NOT checked "
        "completely."),
    "models.undecided": Rule(
        "File could not be typed: it may be a model", ("CWE-502",),
        "Raise the scanner's budget or review the file by hand; it was NOT checked."),
    "models.unreadable": Rule(
        "File or folder could not be read", ("CWE-502",),
        "Make it readable by the scanner (or exclude it on purpose); it was NOT checked."),
    "models.config.dangerous-target": Rule(
        "Model config instantiates a code-execution primitive", _CONFIG_TAGS,
        "Do not load this model: its config makes the loader call the named function. Rebuild "
        "the config from a trusted source."),
    "models.config.unknown-target": Rule(
        "Model config instantiates a class outside the allowlist", _CONFIG_TAGS,
        "Check the class the config names; if it is your own, add it to the step's `allow` list "
        "(module.name). The loader imports and calls it."),
    "models.config.remote-code": Rule(
        "Model config loads Python code from a repository (auto_map)", _CONFIG_TAGS,
        "Loading with trust_remote_code=True runs the repository's Python files: review them, "
        "pin the revision, or use a model that needs no remote code."),
    "models.torchscript.unsafe-code": Rule(
        "TorchScript source reaches Python internals", _TORCHSCRIPT_TAGS, _TORCHSCRIPT_FIX),
    "models.torchscript.custom-op": Rule(
        "TorchScript calls an operator from an unknown namespace", _TORCHSCRIPT_TAGS,
        _TORCHSCRIPT_FIX),
}


@dataclass(frozen=True)
class Where:
    """The position being scanned: a file, and the chain of inner members to reach a blob."""

    path: str
    """The file, relative to the scanned root."""
    member: str | None = None
    """Inner path (``archive/data.pkl``, ``a.tar!model.pt!archive/data.pkl``)."""
    fmt: str = ""
    """Content format of the blob (``pytorch-zip``, ``pickle`` …)."""
    depth: int = 0
    """Container nesting depth."""

    def inner(self, name: str, fmt: str = "") -> Where:
        """The position of a member inside this blob."""
        member = f"{self.member}!{name}" if self.member else name
        return Where(self.path, member, fmt or self.fmt, self.depth + 1)

    def typed(self, fmt: str) -> Where:
        return Where(self.path, self.member, fmt, self.depth)


@dataclass
class Collector:
    """Collects findings, at most one per (rule, position, key)."""

    findings: list[Finding] = field(default_factory=list)
    formats: set[str] = field(default_factory=set)
    """Model formats recognised in the current file."""
    pickle_streams: int = 0
    """Pickle streams analysed in the current file."""
    _seen: set[tuple[str, str, str | None, str]] = field(default_factory=set)

    def add(self, rule_id: str, severity: Severity, where: Where, message: str, *,
            offset: int | None = None, line: int | None = None, key: str = "",
            props: dict[str, str] | None = None, evidence: str = "",
            confidence: Confidence = Confidence.HIGH) -> None:
        """Add one finding of ``rule_id`` (a key of :data:`RULES`) unless this (rule, position,
        key) was added already; ``line`` is a line of the member's text (TorchScript code)."""
        ident = (rule_id, where.path, where.member, key or str(offset or ""))
        if ident in self._seen:
            return
        self._seen.add(ident)
        rule = RULES[rule_id]
        properties = {"format": where.fmt} if where.fmt else {}
        properties.update(props or {})
        self.findings.append(Finding.create(
            rule_id=rule_id, title=rule.title, severity=severity, scanner=SCANNER,
            location=Location(path=where.path, member=where.member, offset=offset, line=line),
            message=message, key=key or None, confidence=confidence, evidence=evidence[:200],
            tags=rule.tags, remediation=rule.remediation, properties=properties))

    def incomplete(self, where: Where, why: str, offset: int | None = None) -> None:
        """Report a budget or limit that stopped the analysis (high: what was not analysed may
        hold anything, so the default policy fails on it)."""
        self.add("models.scan-incomplete", Severity.HIGH, where,
                 f"analysis stopped early: {why}", offset=offset, key=why,
                 props={"reason": why})

    def undecided(self, where: Where, why: str) -> None:
        """Report a blob whose format could not be decided within budget."""
        self.add("models.undecided", Severity.HIGH, where, f"not analysed: {why}", key=why,
                 props={"reason": why})

    def unreadable(self, where: Where, why: str) -> None:
        """Report a file or folder that could not be read."""
        self.add("models.unreadable", Severity.HIGH, where,
                 f"could not be read, so it was not scanned: {why}", key=why,
                 props={"reason": why})
