#!/usr/bin/env bash
# Install mmcv (with its compiled ops) into the given interpreter's environment: with the
# CUDA kernels where torch sees a GPU, CPU-only otherwise.
#
# Usage: tools/install_mmcv.sh PYTHON MMCV_VERSION CACHE_ROOT
#
# Environment:
#   FX_MMCV_CUDA          auto (default): CUDA build when torch sees a CUDA GPU;
#                         1: CUDA build even without a GPU (compiling needs none);
#                         0: CPU-only build.
#   TORCH_CUDA_ARCH_LIST  GPU architectures of a CUDA build, taken as given ("8.0;9.0+PTX").
#                         Default: those of the visible GPUs, without a visible GPU 8.0;9.0
#                         (A100, H100/H200); either way with +PTX for the newest, so that a
#                         newer GPU JIT-compiles the kernels instead of finding none.
#   CUDA_HOME             A CUDA toolkit of torch's CUDA release (major.minor, read from its
#                         nvcc, else its version.json); one of another release is passed
#                         over, saying so. Without one (and without a matching nvcc on
#                         PATH), nvcc and the headers come from the registry packages pinned
#                         to torch's CUDA release.
#   FX_CUDA_TOOLKIT       auto (default): CUDA_HOME, else a matching nvcc on PATH, else the
#                         registry packages; registry: the registry packages in any case.
#   MAX_JOBS              Parallel compile jobs (default 2).
#
# What is built is resolved by tools/mmcv_variant.py (which `make install` also asks, to
# name its stamp). Wheels are cached in CACHE_ROOT/wheels/torch-<torch version>/<variant>/,
# the variant being "cpu" or "cuda<version>-sm<archs>" (e.g. cuda13.0-sm80_90ptx): a wheel
# is never reused with another torch, another CUDA or other architectures (PTX included),
# and a CPU wheel never stands in for a CUDA one. Build logs go to CACHE_ROOT/logs/.
# Nothing is installed until a wheel is built, so a failed build leaves the environment as
# it was; a failed CUDA build falls back to the CPU build (on the GPU, the two compiled
# ops fx_mm reaches then take PyTorch paths: deformable attention mmcv's, see
# fx_mm/ops/deform_attn_fallback.py, and the sigmoid focal loss mmdet's, see
# fx_mm/ops/focal_loss_dispatch.py).
set -euo pipefail
py=$1; ver=$2; cache_root=$3
jobs=${MAX_JOBS:-2}
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
marker="$site/fx_mm_mmcv_built_for_torch.txt"
probe="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mmcv_variant.py"

# torch version, torch's CUDA release (or none), cpu|cuda, the variant, the architectures
# (or -), then a line on where the architectures came from. The probe explains a refusal
# (unknown mode, CUDA asked of a CPU torch, unreadable TORCH_CUDA_ARCH_LIST) itself.
fields=$("$py" "$probe" --fields) || exit $?
{ read -r torch_now torch_cuda want variant arch_list; read -r arch_note || true; } <<< "$fields"
[ -n "${arch_note:-}" ] && echo "$arch_note"
cuda_variant=$variant

variant_of() {  # cpu | the CUDA variant asked for (cuda13.0-sm80_90ptx)
  if [ "$1" = cpu ]; then echo cpu; else echo "$cuda_variant"; fi
}

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$torch_now $variant" ] \
   && "$py" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$ver'" 2>/dev/null; then
  echo "mmcv $ver ($variant) already built for torch $torch_now: nothing to do"
  exit 0
fi

mkdir -p "$cache_root/logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch_source() {  # unpacks mmcv's sdist once into $work/mmcv-$ver, patched for C++20 if needed
  [ -d "$work/mmcv-$ver" ] && return 0
  "$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$work" \
    "mmcv==$ver" || { echo "could not download mmcv $ver's source" >&2; return 1; }
  tar xzf "$work/mmcv-$ver.tar.gz" -C "$work" || return 1
  # torch >= 2.10 headers refuse to compile below C++20, but mmcv 2.1.0's setup.py pins
  # -std=c++17 (host and nvcc); raise the standard only where torch's headers demand it.
  local torch_inc
  torch_inc=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if grep -q "C++20 or later" "$torch_inc/ATen/ATen.h" 2>/dev/null; then
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$work/mmcv-$ver/setup.py"
    echo "patched mmcv's setup.py for C++20 (torch $torch_now headers require it)"
  fi
}

# The CUDA release (major.minor) of the toolkit in folder $1: its nvcc's, else its
# version.json's; "unknown" if neither says.
cuda_release() {
  local rel
  rel=$("$1/bin/nvcc" --version 2>/dev/null \
        | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' | head -n 1 || true)
  if [ -z "$rel" ] && [ -f "$1/version.json" ]; then
    rel=$(grep -o '"version" *: *"[0-9]*\.[0-9]*' "$1/version.json" | head -n 1 \
          | sed 's/.*"//' || true)
  fi
  echo "${rel:-unknown}"
}

# Points CUDA_HOME at an nvcc of torch's CUDA release: the user's, one on PATH, or the
# registry packages (nvcc, nvvm, crt and cccl headers, all pinned to that release: unpinned,
# nvvm/crt arrive newer and ptxas rejects their PTX). torch refuses to compile extensions
# with another major release, and the registry packages pin major.minor, so any toolkit of
# another release is passed over. Runs inside the CUDA build's subshell, whose output is
# the build log: say() also writes to fd 3, the terminal.
say() { echo "$*"; echo "$*" >&3; }
setup_cuda_toolkit() {
  local rel nvcc_home
  if [ "${FX_CUDA_TOOLKIT:-auto}" = registry ]; then
    say "FX_CUDA_TOOLKIT=registry: not looking for a system toolkit"
  else
    if [ -n "${CUDA_HOME:-}" ] && [ ! -x "$CUDA_HOME/bin/nvcc" ]; then
      say "CUDA_HOME=$CUDA_HOME has no bin/nvcc: not using it"
    elif [ -n "${CUDA_HOME:-}" ]; then
      rel=$(cuda_release "$CUDA_HOME")
      if [ "$rel" = "$torch_cuda" ]; then
        say "nvcc: CUDA_HOME=$CUDA_HOME (CUDA $rel)"; return 0
      fi
      say "CUDA_HOME=$CUDA_HOME is CUDA $rel, but torch $torch_now was built with CUDA" \
          "$torch_cuda: not using it (torch refuses to build against another release)"
    fi
    if command -v nvcc >/dev/null; then
      nvcc_home=$(dirname "$(dirname "$(command -v nvcc)")")
      rel=$(cuda_release "$nvcc_home")
      if [ "$rel" = "$torch_cuda" ]; then
        CUDA_HOME=$nvcc_home; export CUDA_HOME
        say "nvcc: the CUDA $rel toolkit on PATH, at $CUDA_HOME"; return 0
      fi
      say "nvcc on PATH is CUDA $rel, torch was built with $torch_cuda: not using it"
    fi
  fi
  local major=${torch_cuda%%.*}
  say "installing nvcc and headers for CUDA $torch_cuda (torch's release) from the package registry"
  "$py" -m pip install -q "nvidia-cuda-nvcc==$torch_cuda.*" "nvidia-nvvm==$torch_cuda.*" \
    "nvidia-cuda-crt==$torch_cuda.*" "nvidia-cuda-cccl==$torch_cuda.*" || return 1
  CUDA_HOME="$site/nvidia/cu$major"; export CUDA_HOME
  [ -x "$CUDA_HOME/bin/nvcc" ] || { say "no nvcc at $CUDA_HOME/bin"; return 1; }
  say "nvcc: CUDA_HOME=$CUDA_HOME (registry packages)"
  # torch links with -lcudart; the runtime package ships only the versioned library.
  mkdir -p "$work/cudalib"
  ln -sf "$(ls "$CUDA_HOME"/lib/libcudart.so.* | head -n 1)" "$work/cudalib/libcudart.so"
  export LIBRARY_PATH="$work/cudalib:$CUDA_HOME/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
}

# build_wheel cpu|cuda LOG: compiles a wheel into the variant's cache folder.
build_wheel() {
  local kind=$1 log=$2 out start
  out="$cache_root/wheels/torch-$torch_now/$(variant_of "$kind")"
  fetch_source || return 1
  rm -rf "$work/dist"; mkdir -p "$work/dist"
  start=$(date +%s)
  if [ "$kind" = cuda ]; then
    echo "compiling mmcv $ver with CUDA $torch_cuda kernels for $arch_list against torch $torch_now" \
         "($jobs jobs; about an hour on 2 cores; log: $log)"
    ( setup_cuda_toolkit && "$CUDA_HOME/bin/nvcc" --version | tail -n 2 &&
      MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch_list" MAX_JOBS=$jobs \
        "$py" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$work/dist" \
        "$work/mmcv-$ver" ) 3>&1 > "$log" 2>&1 || return 1
  else
    echo "compiling mmcv $ver with CPU ops against torch $torch_now (about 10 minutes on 2 cores)"
    # mmcv's setup.py compiles its CUDA kernels whenever torch.cuda.is_available(),
    # FORCE_CUDA=0 or not: a CPU build on a GPU machine must not let torch see the GPUs.
    CUDA_VISIBLE_DEVICES= MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$jobs \
      "$py" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$work/dist" \
      "$work/mmcv-$ver" 2>&1 | tee "$log" || return 1
  fi
  ls "$work"/dist/mmcv-"$ver"-*.whl >/dev/null 2>&1 || return 1
  mkdir -p "$out"
  rm -f "$out"/mmcv-*.whl
  mv "$work"/dist/mmcv-"$ver"-*.whl "$out/"
  printf 'torch %s\nvariant %s\narch_list %s\nbuilt_s %s\njobs %s\ncores %s\n' "$torch_now" \
    "$(variant_of "$kind")" "${arch_list:-none}" "$(( $(date +%s) - start ))" "$jobs" "$(nproc)" \
    > "$out/build_info.txt"
  echo "built $(ls "$out"/mmcv-*.whl) in $(( $(date +%s) - start )) s"
}

cached_wheel() {  # the cached wheel of a variant, if any
  ls "$cache_root/wheels/torch-$torch_now/$1"/mmcv-"$ver"-*.whl 2>/dev/null | head -n 1 || true
}

wheel=$(cached_wheel "$variant")
if [ -n "$wheel" ]; then
  echo "reusing $wheel (torch $torch_now, $variant)"
else
  log="$cache_root/logs/mmcv-$ver-torch-$torch_now-$variant-$(date +%Y%m%d-%H%M%S).log"
  if ! build_wheel "$want" "$log"; then
    if [ "$want" = cpu ]; then
      echo "mmcv $ver failed to compile (CPU ops); the log is $log" >&2
      exit 1
    fi
    cat >&2 <<EOF

*** The CUDA build of mmcv $ver failed. ***
Compiling mmcv's CUDA kernels (CUDA $torch_cuda, architectures $arch_list, torch $torch_now)
did not produce a wheel; the compiler's output is in
    $log
(its last lines are below). The installation goes on with mmcv's CPU build: training and
inference still run on a GPU, but the two compiled ops fx_mm reaches there take PyTorch
paths, each with one warning per process: deformable attention (the DINO localization
branch) mmcv's slower pure-PyTorch path, and the sigmoid focal loss (DINO's classification
loss) mmdet's PyTorch path. A plain "make install" does not retry (it records this
install as done); to retry after fixing the cause:
    FX_MMCV_CUDA=1 make -B install

EOF
    tail -n 15 "$log" >&2 || true
    variant=$(variant_of cpu)
    wheel=$(cached_wheel "$variant")
    if [ -z "$wheel" ]; then
      log="$cache_root/logs/mmcv-$ver-torch-$torch_now-cpu-$(date +%Y%m%d-%H%M%S).log"
      build_wheel cpu "$log" || {
        echo "mmcv $ver failed to compile (CPU ops) too; the log is $log" >&2; exit 1; }
    fi
  fi
  wheel=$(cached_wheel "$variant")
fi
"$py" -m pip install -q --no-deps --force-reinstall "$wheel"
# mmcv's own requirements (addict, yapf, ...), now that the compiled package is in place.
"$py" -m pip install -q "mmcv==$ver" --no-build-isolation
echo "$torch_now $variant" > "$marker"
echo "mmcv $ver installed: $variant build ($wheel)"
