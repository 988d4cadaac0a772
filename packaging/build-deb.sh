#!/bin/sh
# Build the Debian package of postcall: dist/postcall_VERSION_ARCH.deb.
#
# Usage: packaging/build-deb.sh VERSION [ARCH]
#
#   VERSION  the package and program version, for example 0.1.0 or
#            0.1.0-1 (a Debian version: it starts with a digit)
#   ARCH     the Debian architecture (amd64, arm64, armhf, armel, i386,
#            ppc64el, s390x, riscv64). Default: this machine's, from dpkg.
#
# Environment:
#   DIST_DIR         where the .deb is written (default: dist in the
#                    repository)
#   DEB_MAINTAINER   the Maintainer field (default: a placeholder address)
#   GO               the go command (default: go)
#
# Needs only go, dpkg-deb and POSIX tools. The binary is static
# (CGO_ENABLED=0), so one package fits every Debian release of its
# architecture.
set -eu

usage() {
	echo "usage: $0 VERSION [ARCH]   (for example: $0 0.1.0)" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
version=$1
case "$version" in
[0-9]*) ;;
*)
	echo "build-deb: version \"$version\" is invalid: a Debian version starts with a digit, for example 0.1.0" >&2
	exit 2
	;;
esac
if printf '%s' "$version" | LC_ALL=C grep -q '[^A-Za-z0-9.+~-]'; then
	echo "build-deb: version \"$version\" is invalid: use only letters, digits and . + ~ -" >&2
	exit 2
fi

if [ $# -eq 2 ]; then
	arch=$2
elif command -v dpkg >/dev/null 2>&1; then
	arch=$(dpkg --print-architecture)
else
	echo "build-deb: dpkg is missing, so name the architecture: $0 $version amd64" >&2
	exit 2
fi

# Debian architecture to Go's GOARCH (and GOARM for 32-bit ARM).
goarm=
case "$arch" in
amd64) goarch=amd64 ;;
arm64) goarch=arm64 ;;
armhf) goarch=arm goarm=7 ;;
armel) goarch=arm goarm=5 ;;
i386) goarch=386 ;;
ppc64el) goarch=ppc64le ;;
s390x) goarch=s390x ;;
riscv64) goarch=riscv64 ;;
*)
	echo "build-deb: architecture \"$arch\" is not supported: use amd64, arm64, armhf, armel, i386, ppc64el, s390x or riscv64" >&2
	exit 2
	;;
esac

for tool in dpkg-deb "${GO:-go}"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build-deb: $tool is missing: install it (dpkg-deb is in the dpkg package)" >&2
		exit 1
	fi
done
go_cmd=${GO:-go}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
dist=${DIST_DIR:-$repo/dist}
maintainer=${DEB_MAINTAINER:-postcall maintainers <maintainers@postcall.invalid>}

umask 022
stage=$(mktemp -d "${TMPDIR:-/tmp}/postcall-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
root=$stage/root

# Package timestamps follow the last commit, so two builds of one commit
# give the same file dates.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
	export SOURCE_DATE_EPOCH
fi

# write_copyright writes the copyright file: postcall's own notice, then
# the license files of every Go module linked into the binary and of the Go
# standard library, which the static binary contains too.
write_copyright() {
	out=$1
	cat "$here/debian/copyright.in" >"$out"
	(
		cd "$repo"
		CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
			"$go_cmd" list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/postcall
	) >"$stage/modules"
	LC_ALL=C sort -u "$stage/modules" >"$stage/modules.sorted"
	echo "go@$("$go_cmd" env GOVERSION) $("$go_cmd" env GOROOT)" >>"$stage/modules.sorted"
	while read -r module dir; do
		[ -n "$module" ] || continue
		found=
		for file in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE* "$dir"/PATENTS*; do
			[ -f "$file" ] || continue
			found=yes
			printf '\n%s\n%s, file %s\n%s\n\n' \
				'------------------------------------------------------------------------' \
				"$module" "$(basename "$file")" \
				'------------------------------------------------------------------------'
			# Debian ships the Apache 2.0 text once, in common-licenses.
			if grep -q 'Apache License' "$file" && grep -q 'Version 2.0, January 2004' "$file"; then
				echo "Apache License, Version 2.0."
				echo "On Debian systems, the full text is in /usr/share/common-licenses/Apache-2.0."
			else
				cat "$file"
			fi
		done
		if [ -z "$found" ]; then
			echo "build-deb: no license file found for $module in $dir" >&2
			exit 1
		fi
	done <"$stage/modules.sorted" >>"$out"
	chmod 0644 "$out"
}

# write_changelog writes the one-entry changelog Debian requires: a
# version with a Debian revision (0.1.0-1) gets changelog.Debian.gz, a
# native version (0.1.0) changelog.gz.
write_changelog() {
	name=changelog.gz
	case "$version" in
	*-*) name=changelog.Debian.gz ;;
	esac
	commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	{
		printf 'postcall (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Built by packaging/build-deb.sh from commit %s.\n\n' "$commit"
		printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
	} | gzip -9n >"$1/$name"
	chmod 0644 "$1/$name"
}

echo "build-deb: building postcall $version for $arch"
mkdir -p "$root/usr/bin"
(
	cd "$repo"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		"$go_cmd" build -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$root/usr/bin/postcall" ./cmd/postcall
)
chmod 0755 "$root/usr/bin/postcall"

install -D -m 0644 "$here/postcall.service" "$root/lib/systemd/system/postcall.service"

# The main file is the commented example with the paths of this layout:
# the applications in /etc/postcall/apps.d and the spool in
# /var/lib/postcall. Each rewrite must match once, so a changed example
# fails the build instead of shipping unexpected paths.
main_conf=$root/etc/postcall/postcall.toml
install -d -m 0755 "$root/etc/postcall"
install -d -m 0750 "$root/etc/postcall/apps.d"
sed -e 's|^apps = \["apps.d/\*.toml"\]$|apps = ["/etc/postcall/apps.d/*.toml"]|' \
	"$repo/examples/postcall.toml" >"$main_conf"
chmod 0640 "$main_conf"
for line in 'apps = ["/etc/postcall/apps.d/*.toml"]' 'path = "/var/lib/postcall/spool.db"'; do
	if [ "$(grep -cxF "$line" "$main_conf")" != 1 ]; then
		echo "build-deb: examples/postcall.toml changed: expected the line '$line' once in the packaged main file" >&2
		exit 1
	fi
done

# The example application ends in .sample, so the *.toml pattern does not
# load it and a fresh install has no application.
install -m 0644 "$repo/examples/apps.d/survey.toml" "$root/etc/postcall/apps.d/example.toml.sample"

doc=$root/usr/share/doc/postcall
install -d -m 0755 "$doc" "$doc/examples" "$doc/examples/apps.d" "$doc/examples/calls"
install -m 0644 "$here/debian/README" "$doc/README"
if [ -f "$repo/README.md" ]; then
	install -m 0644 "$repo/README.md" "$doc/README.md"
fi
for page in "$repo"/docs/*.md; do
	if [ -f "$page" ]; then
		install -m 0644 "$page" "$doc/"
	fi
done
install -m 0644 "$repo/examples/postcall.toml" "$doc/examples/"
install -m 0644 "$repo"/examples/apps.d/*.toml "$repo"/examples/apps.d/*.wsdl "$doc/examples/apps.d/"
# Real captured events, for trying an application with postcall render.
install -m 0644 "$repo"/demo/assets/calls/*.json "$doc/examples/calls/"
write_copyright "$doc/copyright"
write_changelog "$doc"
install -D -m 0644 "$here/debian/lintian-overrides" "$root/usr/share/lintian/overrides/postcall"
install -d -m 0755 "$root/usr/share/man/man1"
gzip -9n <"$here/debian/postcall.1" >"$root/usr/share/man/man1/postcall.1.gz"
chmod 0644 "$root/usr/share/man/man1/postcall.1.gz"

# Control files. dpkg-deb checks their syntax and modes; --root-owner-group
# makes every file root:root, and postinst hands the configuration to the
# group postcall.
install -d -m 0755 "$root/DEBIAN"
installed_size=$(du -sk "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" \
	-e "s|@MAINTAINER@|$maintainer|" -e "s|@INSTALLED_SIZE@|$installed_size|" \
	"$here/debian/control.in" >"$root/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
(
	cd "$root"
	find usr lib -type f | LC_ALL=C sort | xargs md5sum >DEBIAN/md5sums
)
chmod 0644 "$root/DEBIAN/md5sums"

mkdir -p "$dist"
deb=$dist/postcall_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "build-deb: wrote $deb"
