"""dpkg, apk and rpm version orderings: the specifications' examples, ordering laws, and dpkg
itself as the reference where it is installed."""

from __future__ import annotations

import functools
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.core.errors import InputError
from secpipe.images.distro_versions import (
    MAX_VERSION_LENGTH,
    InvalidDistroVersion,
    Scheme,
    apk_compare,
    comparator,
    dpkg_compare,
    parse_dpkg,
    parse_evr,
    rpm_compare,
    rpmvercmp,
    sort_key,
    valid,
)


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


# ---------------------------------------------------------------- dpkg


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0", "1.1", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~~a", -1),   # Policy 5.6.12's example: ~~ < ~~a < ~ < (end) < a
    ("1.0~~a", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0", "1.0a", -1),
    ("1.0a", "1.0+", -1),      # letters sort before non-letters
    ("1.0+", "1.0.", -1),      # then by character code
    ("1:0.1", "9.9", 1),       # the epoch decides first
    ("2.36-9+deb12u3", "2.36-9+deb12u10", -1),  # digits compared as numbers
    ("01.2", "1.2", 0),
    ("1.0", "1.0-0", 0),       # no revision is revision 0
    ("3.0.11-1~deb12u2", "3.0.11-1", -1),
    ("1.2-3+b1", "1.2-3", 1),  # a binNMU sorts after its source upload
    ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2", 1),
    ("5.6.1+really5.4.5-1", "5.6.1-1", 1),
    ("1.2.3-1-2", "1.2.3-1-1", 1),  # hyphens in upstream: the last one starts the revision
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1),
])
def test_dpkg_table(a: str, b: str, expected: int) -> None:
    assert sign(dpkg_compare(a, b)) == expected
    assert sign(dpkg_compare(b, a)) == -expected


def test_dpkg_parse_splits_epoch_upstream_revision() -> None:
    assert parse_dpkg("1:2.3-4-5") == (1, "2.3-4", "5")
    assert parse_dpkg("2.3") == (0, "2.3", "")


@pytest.mark.parametrize("bad", ["", "a1.0", "1.0-", "x:1.0", "1.0 beta", "1_0", " 1.0",
                                 "1.0-a_b", "1:", "1.0\x00", "\uff11.0",
                                 "9" * (MAX_VERSION_LENGTH + 1)])
def test_dpkg_refuses_what_is_not_a_version(bad: str) -> None:
    with pytest.raises(InvalidDistroVersion) as info:
        dpkg_compare(bad, "1.0")
    assert isinstance(info.value, InputError)
    assert "dpkg" in str(info.value)
    assert not valid(Scheme.DPKG, bad)


DPKG_VERSIONS = st.from_regex(
    r"\A([0-9]{1,2}:)?[0-9][A-Za-z0-9.+~]{0,7}(-[A-Za-z0-9.+~]{1,5})?\Z", fullmatch=True)

# ---------------------------------------------------------------- apk


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("1.0_alpha", "1.0_beta", -1),
    ("1.0_beta", "1.0_pre", -1),
    ("1.0_pre", "1.0_rc", -1),
    ("1.0_rc1", "1.0", -1),
    ("1.0", "1.0_cvs", -1),
    ("1.0_cvs", "1.0_svn", -1),
    ("1.0_git20240101", "1.0_hg", -1),
    ("1.0_hg", "1.0_p1", -1),
    ("1.2.3_rc1-r0", "1.2.3-r0", -1),
    ("1.2.3_p1-r0", "1.2.3-r0", 1),
    ("1.2.3a-r0", "1.2.3-r0", 1),
    ("1.0a", "1.0b", -1),
    ("1.0", "1.0-r1", -1),
    ("1.36.1-r29", "1.36.1-r30", -1),
    ("3.3.1-r0", "3.3.1-r0", 0),
    ("1.0.1", "1.0", 1),
    ("1.0", "1", 1),
    ("1.01", "1.1", -1),       # apk-tools' leading-zero rule
    ("1.10", "1.9", 1),
    ("2.12.6-r0", "2.12.10-r0", -1),
    ("1.2.5-r1", "1.2.5-r9", -1),
    # pairs from apk-tools 2.14's test/version.data (all 731 valid ones were checked to agree)
    ("4.3_p2-r1", "4.3_p2-r5", -1),
    ("1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0", -1),
    ("2.59", "20050718-r1", -1),
    ("4.5_p1-r1", "4.5_p1", 1),
    ("1.03-r1", "1.12.12-r2", -1),
    ("014-r1", "1.3.1-r1", 1),
    ("2.3.0b-r2", "2.3.0b-r3", -1),
    ("0.1.0_alpha2", "0.1.0_alpha", 1),
    ("1.1", "1.1_alpha1", 1),
])
def test_apk_table(a: str, b: str, expected: int) -> None:
    assert sign(apk_compare(a, b)) == expected
    assert sign(apk_compare(b, a)) == -expected


@pytest.mark.parametrize("bad", ["", "1.0_foo", "1.0-1", "1.0A", "V1.0", "1.0-r1a", "1.0 ",
                                 "1.0-r1.2", "1.0_rc1a", "1." + "9" * 18, "1.0\u00e9"])
def test_apk_refuses_what_is_not_a_version(bad: str) -> None:
    with pytest.raises(InvalidDistroVersion):
        apk_compare(bad, "1.0")
    assert not valid(Scheme.APK, bad)


@pytest.mark.parametrize("odd", ["1.0..1", "1.0_rc1_", "v1.0x", "1.0-r1-r2"])
def test_apk_accepts_what_apk_tools_2_14_accepts(odd: str) -> None:
    assert valid(Scheme.APK, odd)  # lenient as apk-tools itself; never a crash


APK_VERSIONS = st.builds(
    lambda nums, letter, suffixes, rev: ".".join(nums) + letter + "".join(suffixes) + rev,
    st.lists(st.from_regex(r"\A[0-9]{1,3}\Z", fullmatch=True), min_size=1, max_size=4),
    st.sampled_from(["", "a", "b", "z"]),
    st.lists(st.builds(lambda s, n: f"_{s}{n}",
                       st.sampled_from(["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg",
                                        "p"]),
                       st.sampled_from(["", "0", "1", "2", "20240101"])), max_size=2),
    st.sampled_from(["", "-r0", "-r1", "-r12"]),
)

# ---------------------------------------------------------------- rpm


@pytest.mark.parametrize(("a", "b", "expected"), [  # rpm's own rpmvercmp test table
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1),
    ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("xyz.4", "8", -1),
    ("2.0", "2_0", 0),
    ("2_0", "2.0", 0),
    ("a", "1", -1),
    ("1.010", "1.9", 1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0", 1),
    ("1.0^git1", "1.01", -1),
    ("1.0^git1", "1.0.1", -1),
    ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0", "1.0.a", -1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^20160101^git1", "1.0^20160101", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    ("10.0001", "10.1", 0),
    ("6.0.rc1", "6.0", 1),
    ("a+", "a_", 0),
])
def test_rpmvercmp_table(a: str, b: str, expected: int) -> None:
    assert sign(rpmvercmp(a, b)) == expected
    assert sign(rpmvercmp(b, a)) == -expected


def test_rpm_evr() -> None:
    assert parse_evr("1:2.3-4.el9") == (1, "2.3", "4.el9")
    assert rpm_compare("1:1.0-1.el9", "2.0-1.el9") == 1
    assert rpm_compare("3.0.7-24.el9", "3.0.7-25.el9") == -1
    assert rpm_compare("3.0.7", "3.0.7-25.el9") == 0  # no release on one side: not compared
    with pytest.raises(InvalidDistroVersion):
        rpm_compare("x:1.0", "1.0")


RPM_VERSIONS = st.from_regex(r"\A[0-9A-Za-z.~^_+]{1,10}\Z", fullmatch=True)

# ---------------------------------------------------------------- laws


SCHEMES = [(Scheme.DPKG, DPKG_VERSIONS), (Scheme.APK, APK_VERSIONS),
           (Scheme.RPM, RPM_VERSIONS)]


@pytest.mark.parametrize(("scheme", "versions"), SCHEMES, ids=lambda s: getattr(s, "value", ""))
def test_ordering_laws(scheme: Scheme, versions: st.SearchStrategy[str]) -> None:
    compare = comparator(scheme)

    @settings(max_examples=300, deadline=None)
    @given(versions, versions, versions)
    def laws(a: str, b: str, c: str) -> None:
        assert compare(a, a) == 0
        assert sign(compare(a, b)) == -sign(compare(b, a))
        if compare(a, b) <= 0 and compare(b, c) <= 0:
            assert compare(a, c) <= 0
        if compare(a, b) == 0:
            assert sign(compare(a, c)) == sign(compare(b, c))

    laws()


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
@settings(max_examples=60, deadline=None)
@given(DPKG_VERSIONS, DPKG_VERSIONS)
def test_dpkg_agrees_with_dpkg(a: str, b: str) -> None:
    ours = sign(dpkg_compare(a, b))
    op = {-1: "lt", 0: "eq", 1: "gt"}[ours]
    done = subprocess.run(["dpkg", "--compare-versions", a, op, b], capture_output=True,
                          timeout=10, check=False)
    assert done.returncode == 0, (a, op, b, done.stderr)


def test_sort_key_orders_a_list() -> None:
    assert sorted(["1.0-1", "1:0.1-1", "1.0~rc1-1", "1.0-1+b1"], key=sort_key(Scheme.DPKG)) == \
        ["1.0~rc1-1", "1.0-1", "1.0-1+b1", "1:0.1-1"]
    assert functools.cmp_to_key(apk_compare)("1.0") < functools.cmp_to_key(apk_compare)("1.1")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Scheme)), st.text(max_size=40), st.text(max_size=40))
def test_any_text_compares_or_is_refused(scheme: Scheme, a: str, b: str) -> None:
    try:
        result = comparator(scheme)(a, b)
    except InvalidDistroVersion:
        return
    assert result in (-1, 0, 1) or isinstance(result, int)
