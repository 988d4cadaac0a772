// Package packaging holds the Debian packaging of postcall: the systemd unit
// (postcall.service), the package build script (build-deb.sh) and the
// package's control files and maintainer scripts (debian/). It contains no
// program code. Its tests parse the unit, build the package into a
// temporary folder and inspect it.
//
// The tests must never install anything on the machine that runs them: they
// unpack into temporary folders only.
package packaging
