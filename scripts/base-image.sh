#!/usr/bin/env bash
# Builds a minimal Debian 12 (bookworm) base image as a local OCI layout, without pulling from
# any container registry: debootstrap --variant=minbase from a Debian mirror, plus Python 3
# (python3, python3-pip, python-is-python3: what the example's serving image needs), then
# buildah from scratch / add the rootfs tar / commit --timestamp / push oci:LAYOUT:bookworm.
#
#   scripts/base-image.sh [LAYOUT_DIR]     default: ~/.cache/secpipe/base-images/base
#
# Output: the layout LAYOUT_DIR with the ref `bookworm` (use it as build-image's
# `base: oci:LAYOUT_DIR:bookworm`). Cached: when the layout already holds that ref, nothing is
# done (delete the folder, or set SECPIPE_BASE_REBUILD=1, to rebuild). Needs root, debootstrap
# and buildah (scripts/ci-tools.sh installs both). Environment:
#   SECPIPE_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   SOURCE_DATE_EPOCH       default 1700000000: the time stamped on the tar members and image
#   SECPIPE_BASE_PACKAGES   extra packages, comma-separated (default python3,python3-pip,python-is-python3)
#   SECPIPE_BASE_EXTRA_CA   folder of local CA certificates (*.crt) the image trusts too (below)
#
# /dev, /proc, /sys are left empty in the image (a base holding device files is refused by
# build-image), apt lists and caches are removed, and the tar is sorted with fixed owners and
# mtimes. debootstrap itself is not bit-for-bit reproducible (package install times in logs), so
# two builds from the same mirror state give the same package set, not always the same digest.
set -euo pipefail

LAYOUT="${1:-${HOME}/.cache/secpipe/base-images/base}"
REF=bookworm
MIRROR="${SECPIPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
PACKAGES="${SECPIPE_BASE_PACKAGES:-python3,python3-pip,python-is-python3}"

if [ "${SECPIPE_BASE_REBUILD:-0}" != 1 ] && [ -f "$LAYOUT/index.json" ] \
   && grep -q "\"org.opencontainers.image.ref.name\":\"$REF\"" "$LAYOUT/index.json"; then
  echo "base-image: cached: oci:$LAYOUT:$REF"
  exit 0
fi
for tool in debootstrap buildah; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "base-image: $tool not found (scripts/ci-tools.sh installs it: apt-get install $tool)" >&2
    exit 1
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "base-image: debootstrap needs root" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/secpipe-base.XXXXXX")"
cleanup() {
  # debootstrap may leave /proc or /sys mounted in the chroot when it fails half way
  for m in proc sys dev/pts dev; do
    mountpoint -q "$WORK/rootfs/$m" 2>/dev/null && umount -l "$WORK/rootfs/$m" || true
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
started=$(date +%s)

echo "base-image: debootstrap --variant=minbase bookworm from $MIRROR (+ $PACKAGES)"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$WORK/rootfs" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
boot_done=$(date +%s)

# trim what a base image does not need: apt lists and caches, debootstrap's own files, logs
rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*.bin \
       "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/debootstrap" \
       "$WORK/rootfs/var/log/"*.log "$WORK/rootfs/var/log/apt/"*
# local CA certificates: a CI runner behind a TLS-inspecting proxy trusts extra CAs, and so must
# the RUN lines of builds on this base (pip, curl). Default: the host's own locally added CAs
# (/usr/local/share/ca-certificates/*.crt); SECPIPE_BASE_EXTRA_CA=DIR names another folder, an
# empty value adds none. They are appended to the bundle and kept under the same folder in the
# image, so a later update-ca-certificates keeps them.
EXTRA_CA="${SECPIPE_BASE_EXTRA_CA-/usr/local/share/ca-certificates}"
if [ -n "$EXTRA_CA" ] && [ -d "$EXTRA_CA" ]; then
  for crt in "$EXTRA_CA"/*.crt; do
    [ -f "$crt" ] || continue
    grep -q -- '-----BEGIN CERTIFICATE-----' "$crt" || continue
    mkdir -p "$WORK/rootfs/usr/local/share/ca-certificates" "$WORK/rootfs/etc/ssl/certs"
    install -m 0644 "$crt" "$WORK/rootfs/usr/local/share/ca-certificates/$(basename "$crt")"
    cat "$crt" >>"$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"
    echo "base-image: trusting local CA $(basename "$crt")"
  done
fi
# the apt sources inside the image: the same mirror, plus security updates
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
  "$MIRROR" "$MIRROR" >"$WORK/rootfs/etc/apt/sources.list"

tar --sort=name --mtime="@$EPOCH" --clamp-mtime --owner=0 --group=0 --numeric-owner \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
    --exclude='./tmp/*' -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .

B=(buildah --root "$WORK/storage/root" --runroot "$WORK/storage/runroot" --storage-driver vfs)
export TMPDIR="$WORK"
ctr=$("${B[@]}" from --quiet scratch)
"${B[@]}" add --quiet "$ctr" "$WORK/rootfs.tar" / >/dev/null
"${B[@]}" config --os linux --arch amd64 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd '["bash"]' \
  --label org.opencontainers.image.title="secpipe Debian 12 minbase (debootstrap)" "$ctr"
"${B[@]}" commit --quiet --timestamp "$EPOCH" --identity-label=false "$ctr" localhost/base:bookworm >/dev/null
mkdir -p "$(dirname "$LAYOUT")"
rm -rf "$LAYOUT"
"${B[@]}" push --quiet localhost/base:bookworm "oci:$LAYOUT:$REF"
"${B[@]}" rm --all >/dev/null 2>&1 || true
done_at=$(date +%s)
echo "base-image: oci:$LAYOUT:$REF ($(du -sh "$LAYOUT" | cut -f1)): debootstrap $((boot_done - started)) s, total $((done_at - started)) s"
