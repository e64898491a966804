#!/bin/sh
# Regenerate the build system from a fresh clone: ./autogen.sh && ./configure
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
cd "$srcdir"
mkdir -p m4 build-aux
autoreconf --force --install --verbose
