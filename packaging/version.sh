#!/bin/sh
# Turns the build's VERSION (a tag such as 0.1.0 or v0.1.0, or a
# `git describe --tags --always --dirty` string) into a package version that
# dpkg and rpm both accept and order correctly:
#   0.1.0                      -> 0.1.0
#   v0.1.0-3-gabc1234-dirty    -> 0.1.0+git3.gabc1234.dirty   (sorts after 0.1.0)
#   abc1234 (no tag yet)       -> 0.0.0+gabc1234
#   1.2.0-rc1                  -> 1.2.0~rc1                   (sorts before 1.2.0)
# The result never contains '-' (dpkg would read a Debian revision, rpm refuses
# it), so the .deb is a native package.
set -eu
v=${1:-}
v=${v#v}
case "$v" in
'') v=0.0.0 ;;
[0-9]*) ;;
*) v="0.0.0+g$v" ;;
esac
# <tag>-<n>-g<sha>[-dirty]  ->  <tag>+git<n>.g<sha>[.dirty]
v=$(printf '%s\n' "$v" | sed -E 's/^([^-]+)-([0-9]+)-(g[0-9a-f]+)/\1+git\2.\3/; s/-(rc|alpha|beta|pre)/~\1/; s/-/./g')
# Only characters both formats allow in a version.
v=$(printf '%s\n' "$v" | tr -c 'A-Za-z0-9.+~\n' '.')
printf '%s\n' "$v"
