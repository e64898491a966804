#!/bin/sh
# tests/test-ops-peers-openblas.sh: every op against PyTorch again, with the
# matrix products on OpenBLAS (CXRGEN_GEMM=openblas), the path of a CPU
# without AVX-512, so both paths are checked on any machine.
CXRGEN_GEMM=openblas
export CXRGEN_GEMM
exec "${PYTHON3:-/usr/bin/python3}" "$(dirname "$0")/test-ops-peers.py"
