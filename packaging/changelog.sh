#!/bin/sh
# Writes the Debian changelog of the native package to stdout:
#   changelog.sh VERSION "Name <address>"
# The date is SOURCE_DATE_EPOCH when set (reproducible builds), else the last
# commit's date, else now.
set -eu
version=${1:?usage: changelog.sh VERSION MAINTAINER}
maintainer=${2:?usage: changelog.sh VERSION MAINTAINER}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(LC_ALL=C date -u -R -d "@$epoch")
cat <<END
vigie ($version) stable; urgency=medium

  * Release $version. The project's history is in its repository.

 -- $maintainer  $date
END
