"""PEP 440 and SemVer 2.0 orderings, and OSV range evaluation as the schema documents it."""

from __future__ import annotations

import pytest

from secpipe.scanners.deps.versions import (
    Uncomparable,
    canonical_name,
    fixed_above,
    listed,
    parse_pep440,
    parse_semver,
    parser_for,
    range_affected,
    smallest,
)


def affected(version: str, events: list[dict[str, str]], ecosystem: str = "PyPI") -> bool:
    parse = parser_for(ecosystem)
    assert parse is not None
    return range_affected(version, events, parse)


def test_pep440_orders_pre_post_dev_and_epoch() -> None:
    order = ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.1", "1!0.1"]
    parsed = [parse_pep440(v) for v in order]
    assert all(p is not None for p in parsed)
    assert parsed == sorted(parsed)  # type: ignore[type-var]
    assert parse_pep440("1.0") == parse_pep440("1.0.0")


def test_semver_prerelease_sorts_below_its_release_and_build_is_ignored() -> None:
    a, b, c = parse_semver("4.17.21-beta.1"), parse_semver("4.17.21"), parse_semver("4.17.21+sha")
    assert a is not None and b is not None and c is not None
    assert a < b
    assert b == c
    assert parse_semver("1.0.0-alpha.1") < parse_semver("1.0.0-alpha.beta")  # type: ignore[operator]
    assert parse_semver("v1.2.3") == parse_semver("1.2.3")


@pytest.mark.parametrize("text", ["not-a-version", "1.0-foo bar", "", "2.x"])
def test_invalid_pep440_versions_do_not_parse(text: str) -> None:
    assert parse_pep440(text) is None


@pytest.mark.parametrize("text", ["1.2", "latest", "1.2.3.4", ""])
def test_invalid_semver_versions_do_not_parse(text: str) -> None:
    assert parse_semver(text) is None


def test_introduced_zero_and_fixed() -> None:
    events = [{"introduced": "0"}, {"fixed": "2.2.5"}]
    assert affected("0.1", events)
    assert affected("2.2.4", events)
    assert not affected("2.2.5", events)
    assert not affected("3.0", events)


def test_two_branches_in_one_range_and_unsorted_events() -> None:
    events = [{"introduced": "2.3.0"}, {"fixed": "2.3.2"}, {"introduced": "0"}, {"fixed": "2.2.5"}]
    assert affected("2.2.4", events)
    assert not affected("2.2.9", events)  # between the branches
    assert affected("2.3.1", events)
    assert not affected("2.3.2", events)


def test_last_affected_is_inclusive() -> None:
    events = [{"introduced": "1.0"}, {"last_affected": "2.0.1"}]
    assert not affected("0.9", events)
    assert affected("2.0.1", events)
    assert not affected("2.0.2", events)


def test_introduced_without_end_affects_everything_after() -> None:
    assert affected("99.0", [{"introduced": "3.0"}])
    assert not affected("2.9", [{"introduced": "3.0"}])


def test_limit_caps_the_range_and_star_is_no_limit() -> None:
    events = [{"introduced": "0"}, {"limit": "2.0"}]
    assert affected("1.9", events)
    assert not affected("2.0", events)
    assert affected("5.0", [{"introduced": "0"}, {"limit": "*"}])


def test_semver_range_with_prerelease_of_the_fix() -> None:
    events = [{"introduced": "0"}, {"fixed": "4.17.21"}]
    assert affected("4.17.21-rc.1", events, "npm")  # a pre-release of the fix is below it
    assert not affected("4.17.21", events, "npm")
    assert not affected("4.17.22-beta", events, "npm")


def test_uncomparable_installed_and_event_versions_raise() -> None:
    with pytest.raises(Uncomparable, match="not a valid PEP 440"):
        affected("banana", [{"introduced": "0"}, {"fixed": "1.0"}])
    with pytest.raises(Uncomparable, match=r"'1\.x'"):
        affected("1.0", [{"introduced": "0"}, {"fixed": "1.x"}])
    with pytest.raises(Uncomparable, match="SemVer"):
        affected("1.2", [{"introduced": "0"}, {"fixed": "1.3.0"}], "npm")


def test_parser_for_ecosystems_and_range_types() -> None:
    assert parser_for("PyPI") is parse_pep440
    assert parser_for("npm") is parse_semver
    assert parser_for("PyPI", "SEMVER") is parse_semver
    assert parser_for("PyPI", "GIT") is None
    assert parser_for("conda") is None


def test_canonical_names() -> None:
    assert canonical_name("PyPI", "Scikit_Learn") == "scikit-learn"
    assert canonical_name("PyPI", "zope.interface") == "zope-interface"
    assert canonical_name("npm", "@Babel/Core") == "@babel/core"


def test_fixed_above_smallest_and_listed() -> None:
    events = [{"introduced": "0"}, {"fixed": "2.2.5"}, {"introduced": "2.3.0"}, {"fixed": "2.3.2"}]
    parse = parse_pep440
    assert fixed_above("2.3.1", events, parse) == ["2.3.2"]
    assert sorted(fixed_above("2.0", events, parse)) == ["2.2.5", "2.3.2"]
    assert smallest(["2.3.2", "2.2.5", "junk"], parse) == "2.2.5"
    assert listed("0.2.2", ["0.1.2", "0.2.2"], parse)
    assert listed("1.0", ["1.0.0"], parse)
    assert not listed("0.2.3", ["0.1.2", "0.2.2"], parse)
