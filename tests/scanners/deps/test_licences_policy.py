"""The licence policy: its validation, expression semantics, and the findings it produces."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.deps.licences import (
    RULE_DENIED,
    RULE_NOT_ALLOWED,
    RULE_UNKNOWN,
    LicencePolicy,
    Outcome,
    check_licences,
    declared_licence,
    judge,
    unused_exceptions,
)
from secpipe.scanners.deps.model import NPM, PYPI, Dependency

PERMISSIVE = ["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "PSF-2.0"]


def dep(name: str, licence: str | None, version: str | None = "1.0", *,
        path: str = "requirements.txt", line: int | None = 3, member: str | None = None,
        ecosystem: str = PYPI) -> Dependency:
    return Dependency(ecosystem=ecosystem, name=name, version=version,
                      spec=f"=={version}" if version else ">=1", path=path, line=line,
                      member=member, licence=licence, source="test")


def outcome(declared: str | None, **policy: object) -> Outcome:
    return judge(declared, LicencePolicy.model_validate(policy)).outcome


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "fragment"), [
    ({"deny": ["Foo-1.0"]}, "licences.deny: 'Foo-1.0' is not a known SPDX licence id"),
    ({"allow": ["MIT License"]}, "did you mean 'MIT'?"),
    ({"deny": ["GPL"]}, "it names one of GPL-2.0-only, GPL-3.0-only"),
    ({"allow": ["BSD"]}, "licences.allow: 'BSD' is not a known SPDX licence id"),
    ({"deny": ["MIT OR Apache-2.0"]}, "is an expression; list each licence on its own"),
    ({"deny": ["Classpath-exception-2.0"]}, "not a valid SPDX expression"),
    ({"allow": ["MIT AND ("]}, "not a valid SPDX expression"),
    ({"allow": [" "]}, "licences.allow: an empty entry"),
    ({"allow": ["MIT"], "deny": ["mit"]}, "'MIT' is both allowed and denied"),
    ({"unknown": "loud"}, "choose from critical, high, medium, low, info, off"),
    ({"exceptions": {"left-pad": "  "}}, "'left-pad' needs a reason"),
    ({"alow": ["MIT"]}, "Extra inputs are not permitted"),
])
def test_bad_settings_are_errors_naming_the_entry(settings: dict[str, object],
                                                  fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        LicencePolicy.model_validate(settings)
    assert isinstance(caught.value, ValidationError)
    assert fragment in str(caught.value)


def test_entries_are_spelt_canonically() -> None:
    policy = LicencePolicy(allow=["mit", "gpl-2.0+", "Apache-2.0 or MIT", "LicenseRef-Acme"],
                           deny=["GPL-3.0", "agpl-3.0-or-later"], unknown="HIGH")
    assert policy.allow == ["MIT", "GPL-2.0-or-later", "Apache-2.0 OR MIT", "LicenseRef-Acme"]
    assert policy.deny == ["GPL-3.0-only", "AGPL-3.0-or-later"]
    assert policy.unknown == "high"


def test_embeds_in_step_settings_as_licences() -> None:
    class Settings(BaseModel):
        licences: LicencePolicy = LicencePolicy()

    parsed = Settings.model_validate({"licences": {"deny": ["SSPL-1.0"], "unknown": "off"}})
    assert parsed.licences.deny == ["SSPL-1.0"]
    with pytest.raises(ValidationError, match=re.escape("licences.deny: 'SSPL' is not a known")):
        Settings.model_validate({"licences": {"deny": ["SSPL"]}})


# -- semantics ------------------------------------------------------------------------------------


def test_or_is_acceptable_when_any_branch_is_and_names_the_choice() -> None:
    policy = LicencePolicy(allow=["MIT"])
    verdict = judge("Apache-2.0 OR MIT", policy)
    assert verdict.outcome is Outcome.ALLOWED
    assert verdict.choice == "MIT"
    assert outcome("Apache-2.0 OR MIT", deny=["Apache-2.0"]) is Outcome.ALLOWED
    assert outcome("AGPL-3.0-only OR SSPL-1.0", deny=["AGPL-3.0-only", "SSPL-1.0"]) is \
        Outcome.DENIED
    assert outcome("AGPL-3.0-only OR GPL-2.0-only", allow=["MIT"], deny=["AGPL-3.0-only"]) is \
        Outcome.NOT_ALLOWED


def test_and_is_acceptable_only_when_every_part_is() -> None:
    assert outcome("MIT AND Apache-2.0", allow=["MIT", "Apache-2.0"]) is Outcome.ALLOWED
    assert outcome("MIT AND Apache-2.0", allow=["MIT"]) is Outcome.NOT_ALLOWED
    assert outcome("MIT AND AGPL-3.0-only", deny=["AGPL-3.0-only"]) is Outcome.DENIED
    verdict = judge("BSD-3-Clause AND (Apache-2.0 OR MIT)", LicencePolicy(allow=PERMISSIVE))
    assert verdict.outcome is Outcome.ALLOWED
    assert verdict.choice == "Apache-2.0"


def test_unknown_parts_follow_three_valued_logic() -> None:
    # a branch that is allowed decides an OR; an unknown part leaves an AND undecided
    assert outcome("MIT OR LicenseRef-Custom", allow=["MIT"]) is Outcome.ALLOWED
    assert outcome("MIT AND LicenseRef-Custom", allow=["MIT"]) is Outcome.UNKNOWN
    assert outcome("AGPL-3.0-only AND LicenseRef-Custom", deny=["AGPL-3.0-only"]) is \
        Outcome.DENIED
    assert outcome("AGPL-3.0-only OR LicenseRef-Commercial", deny=["AGPL-3.0-only"]) is \
        Outcome.UNKNOWN


def test_or_later_offers_every_later_version() -> None:
    # denying GPL 3 leaves GPL-2.0-or-later usable as GPL 2, and denies GPL-3.0-or-later
    policy = LicencePolicy(deny=["GPL-3.0-or-later"])
    verdict = judge("GPL-2.0-or-later", policy)
    assert verdict.outcome is Outcome.ALLOWED and verdict.choice == "GPL-2.0-only"
    assert judge("GPL-3.0-or-later", policy).outcome is Outcome.DENIED
    assert judge("GPL-3.0-only", policy).outcome is Outcome.DENIED
    assert judge("GPL-2.0-only", policy).outcome is Outcome.ALLOWED
    # allowing "GPL 2 or later" allows each of those versions
    assert outcome("GPL-3.0-only", allow=["GPL-2.0-or-later"]) is Outcome.ALLOWED
    assert outcome("GPL-2.0-only", allow=["GPL-3.0-or-later"]) is Outcome.NOT_ALLOWED
    # SPDX's + on any id: MPL 1.1 or later may be taken as MPL 2.0
    verdict = judge("MPL-1.1+", LicencePolicy(allow=["MPL-2.0"]))
    assert verdict.outcome is Outcome.ALLOWED and verdict.choice == "MPL-2.0"


def test_lgpl_or_later_against_allow_and_deny() -> None:
    verdict = judge("LGPL-2.1-or-later", LicencePolicy(allow=[*PERMISSIVE, "LGPL-3.0-only"]))
    assert verdict.outcome is Outcome.ALLOWED and verdict.choice == "LGPL-3.0-only"
    assert outcome("LGPL-2.1-or-later", allow=PERMISSIVE) is Outcome.NOT_ALLOWED
    assert outcome("LGPL-2.1-or-later", deny=["LGPL-2.1-only", "LGPL-3.0-only"]) is \
        Outcome.DENIED


def test_with_exceptions_are_kept() -> None:
    classpath = "GPL-2.0-only WITH Classpath-exception-2.0"
    # a deny without an exception covers the licence with any exception
    assert outcome(classpath, deny=["GPL-2.0-only"]) is Outcome.DENIED
    # an allow with the exception accepts that pair only
    assert outcome(classpath, allow=[classpath]) is Outcome.ALLOWED
    assert outcome("GPL-2.0-only", allow=[classpath]) is Outcome.NOT_ALLOWED
    assert outcome("GPL-2.0-only WITH GCC-exception-2.0", allow=[classpath]) is \
        Outcome.NOT_ALLOWED
    # an allow without the exception accepts the licence with any exception
    assert outcome(classpath, allow=["GPL-2.0-only"]) is Outcome.ALLOWED
    assert judge("GPL-2.0-or-later WITH Classpath-exception-2.0",
                 LicencePolicy(deny=["GPL-2.0-only"])).choice == \
        "GPL-3.0-only WITH Classpath-exception-2.0"


def test_deny_wins_over_allow() -> None:
    policy = LicencePolicy(allow=["GPL-2.0-or-later"], deny=["GPL-3.0-only"])
    assert judge("GPL-3.0-only", policy).outcome is Outcome.DENIED
    assert judge("GPL-3.0-or-later", policy).outcome is Outcome.DENIED
    verdict = judge("GPL-2.0-or-later", policy)
    assert verdict.outcome is Outcome.ALLOWED and verdict.choice == "GPL-2.0-only"


def test_ambiguous_names_are_judged_on_every_reading() -> None:
    assert outcome("BSD") is Outcome.ALLOWED  # nothing denied, nothing required
    verdict = judge("BSD License", LicencePolicy(allow=["BSD-2-Clause", "BSD-3-Clause"]))
    assert verdict.outcome is Outcome.UNKNOWN
    assert "does not accept BSD-4-Clause" in verdict.reason
    assert outcome("BSD", deny=["BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause"]) is \
        Outcome.DENIED
    assert outcome("BSD", allow=["MIT"]) is Outcome.NOT_ALLOWED
    assert outcome("GPL", deny=["GPL-2.0-or-later"]) is Outcome.DENIED
    assert outcome("GPL", deny=["GPL-3.0-or-later"]) is Outcome.UNKNOWN


def test_a_packages_own_licence_ref_is_understood_once_named() -> None:
    assert outcome("LicenseRef-Acme-Internal") is Outcome.UNKNOWN
    assert outcome("LicenseRef-Acme-Internal", allow=["LicenseRef-Acme-Internal"]) is \
        Outcome.ALLOWED
    assert outcome("LicenseRef-acme-internal", deny=["LicenseRef-Acme-Internal"]) is \
        Outcome.DENIED


# -- findings -------------------------------------------------------------------------------------


def test_every_rule_id_with_its_severity_and_location() -> None:
    deps = [
        dep("numpy", "BSD-3-Clause", "2.1.3", line=1),
        dep("torch", "BSD-3", "2.5.1", line=2),
        dep("ghostscript-py", "AGPL-3.0-or-later", "0.7", line=3),
        dep("chardet", "LGPL-2.1-or-later", "5.2.0", line=4),
        dep("mystery", None, "0.1", line=5),
        dep("six", "License :: OSI Approved :: MIT License", "1.16.0", line=6),
    ]
    policy = LicencePolicy(allow=PERMISSIVE, deny=["AGPL-3.0-only"], unknown="medium")
    found = {dict(f.properties)["package"]: f
             for f in check_licences(deps, policy)}
    assert set(found) == {"ghostscript-py", "chardet", "mystery"}
    denied, not_allowed, unknown = found["ghostscript-py"], found["chardet"], found["mystery"]
    assert (denied.rule_id, denied.severity) == (RULE_DENIED, Severity.HIGH)
    assert (not_allowed.rule_id, not_allowed.severity) == (RULE_NOT_ALLOWED, Severity.MEDIUM)
    assert (unknown.rule_id, unknown.severity) == (RULE_UNKNOWN, Severity.MEDIUM)
    for finding in found.values():
        assert finding.scanner == "scan-deps"
        assert finding.location.path == "requirements.txt"
        assert finding.remediation
    assert denied.location.line == 3
    assert "AGPL-3.0-or-later is denied (deny: AGPL-3.0-only)" in denied.message
    props = dict(denied.properties)
    assert props["version"] == "0.7" and props["licence"] == "AGPL-3.0-or-later"
    assert props["spdx"] == "AGPL-3.0-or-later" and props["read_as"] == "SPDX expression"
    assert "no licence declared" in unknown.message


def test_unknown_severity_follows_the_policy_and_off_silences_it() -> None:
    deps = [dep("custom", "Custom Corp Licence v7")]
    low = check_licences(deps, LicencePolicy())
    assert [(f.rule_id, f.severity) for f in low] == [(RULE_UNKNOWN, Severity.LOW)]
    assert "'Custom Corp Licence v7' is not an SPDX licence id" in low[0].message
    assert check_licences(deps, LicencePolicy(unknown="off")) == []
    high = check_licences(deps, LicencePolicy(unknown="high"))
    assert high[0].severity is Severity.HIGH


def test_a_budget_hit_is_reported_even_when_unknown_is_off() -> None:
    deps = [dep("huge", " OR ".join(["MIT"] * 1000))]
    found = check_licences(deps, LicencePolicy(unknown="off"))
    assert [(f.rule_id, f.severity) for f in found] == [(RULE_UNKNOWN, Severity.LOW)]
    assert "not read: longer than 2000 characters" in found[0].message


def test_pasted_text_and_free_text_findings_say_how_they_were_read() -> None:
    gpl_notice = ("Copyright (C) 2001 Example\n\nThis program is free software; you can "
                  "redistribute it and/or modify it under the terms of the GNU General Public "
                  "License as published by the Free Software Foundation; either version 3 of "
                  "the License, or (at your option) any later version.\n")
    found = check_licences([dep("gplthing", gpl_notice), dep("gpl3", "GPLv3")],
                           LicencePolicy(deny=["GPL-3.0-only"]))
    assert [f.rule_id for f in found] == [RULE_DENIED, RULE_DENIED]
    text, free = found
    assert text.confidence is Confidence.LOW
    assert "read as licence text" in text.message
    assert dict(text.properties)["licence"].startswith("Copyright (C) 2001 Example …")
    assert free.confidence is Confidence.MEDIUM
    assert "(declared: 'GPLv3', read as free text)" in free.message


def test_one_finding_per_package_version_and_path() -> None:
    deps = [
        dep("Left_Pad", "WTFPL", "1.0", line=3),
        dep("left-pad", "WTFPL", "1.0", line=9),  # same package (PEP 503), same file
        dep("left-pad", "WTFPL", "1.0", path="poetry.lock", line=40),
        dep("left-pad", "WTFPL", "2.0", path="poetry.lock", line=60),
        dep("left-pad", "WTFPL", "1.0", path="notebooks/a.ipynb", line=None, member="cell[3]"),
    ]
    found = check_licences(deps, LicencePolicy(allow=PERMISSIVE))
    where = [(f.location.path, f.location.line, f.location.member,
              dict(f.properties)["version"]) for f in found]
    assert where == [("requirements.txt", 3, None, "1.0"), ("poetry.lock", 40, None, "1.0"),
                     ("poetry.lock", 60, None, "2.0"),
                     ("notebooks/a.ipynb", None, "cell[3]", "1.0")]


def test_exceptions_by_name_or_by_version() -> None:
    deps = [dep("PyQt5", "GPL v3", "5.15.10"), dep("pyqt5", "GPL v3", "5.15.11", path="b.txt"),
            dep("other", "GPL v3", "1.0")]
    by_name = LicencePolicy(deny=["GPL-3.0-only"], exceptions={"pyqt5": "commercial licence"})
    assert [dict(f.properties)["package"] for f in check_licences(deps, by_name)] == ["other"]
    pinned = LicencePolicy(deny=["GPL-3.0-only"],
                           exceptions={"PyQt5==5.15.10": "reviewed for release 3"})
    left = [(dict(f.properties)["package"], dict(f.properties)["version"])
            for f in check_licences(deps, pinned)]
    assert left == [("pyqt5", "5.15.11"), ("other", "1.0")]


def test_npm_dependencies_and_unpinned_ones() -> None:
    deps = [dep("left-pad", "WTFPL", "1.3.0", path="package-lock.json", ecosystem=NPM),
            dep("requests", "Apache 2.0", None)]
    found = check_licences(deps, LicencePolicy(allow=["MIT"]))
    assert [f.rule_id for f in found] == [RULE_NOT_ALLOWED, RULE_NOT_ALLOWED]
    assert dict(found[0].properties)["ecosystem"] == NPM
    assert found[1].message.startswith("requests (>=1): Apache-2.0 is not in the allowed list")


def test_fingerprint_survives_a_line_move_but_not_a_version_change() -> None:
    policy = LicencePolicy(deny=["SSPL-1.0"])
    first = check_licences([dep("mongo-thing", "SSPL-1.0", "1.0", line=3)], policy)[0]
    moved = check_licences([dep("mongo-thing", "SSPL-1.0", "1.0", line=30)], policy)[0]
    bumped = check_licences([dep("mongo-thing", "SSPL-1.0", "1.1", line=3)], policy)[0]
    assert first.fingerprint == moved.fingerprint != bumped.fingerprint


def test_unused_exceptions_are_listed() -> None:
    policy = LicencePolicy(exceptions={"PyQt5": "commercial licence", "gone==1.0": "reviewed",
                                       "left-pad==2.0": "reviewed"})
    deps = [dep("pyqt5", "GPLv3"), dep("left-pad", "WTFPL", "1.0")]
    assert unused_exceptions(deps, policy) == ["gone==1.0", "left-pad==2.0"]


def test_declared_licence_picks_what_metadata_states_best() -> None:
    classifiers = ["Programming Language :: Python :: 3",
                   "License :: OSI Approved :: MIT License",
                   "License :: OSI Approved :: Apache Software License"]
    assert declared_licence(expression="Apache-2.0 OR MIT", field="Apache 2.0",
                            classifiers=classifiers) == "Apache-2.0 OR MIT"
    assert declared_licence(field="Apache 2.0", classifiers=classifiers) == "Apache 2.0"
    both = declared_licence(field="UNKNOWN", classifiers=classifiers)
    assert both == ("License :: OSI Approved :: MIT License\n"
                    "License :: OSI Approved :: Apache Software License")
    assert judge(both, LicencePolicy(allow=["MIT"])).outcome is Outcome.NOT_ALLOWED
    assert declared_licence(field="UNKNOWN") == "UNKNOWN"
    assert declared_licence() is None
