#!/bin/sh
# Runs a GTest program so that it speaks TAP (automake's LOG_COMPILER).
prog=$1
shift
exec "$prog" --tap "$@"
