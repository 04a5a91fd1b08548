#!/usr/bin/env bash
# Install mmcv (with its compiled ops) into the given interpreter's environment.
#
# Usage: tools/install_mmcv.sh PYTHON MMCV_VERSION WHEEL_DIR
#
# Skips everything when mmcv.ops already imports and was built against the torch that is
# installed now (recorded beside the wheel and in the environment). Otherwise reuses a wheel
# from WHEEL_DIR -- a folder named after one torch version -- or compiles one there.
set -euo pipefail
py=$1; ver=$2; wheel_dir=$3
torch_now=$("$py" -c 'import torch; print(torch.__version__)')
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
marker="$site/fx_mm_mmcv_built_for_torch.txt"

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$torch_now" ] \
   && "$py" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$ver'" 2>/dev/null; then
  echo "mmcv $ver already built for torch $torch_now: nothing to do"
  exit 0
fi

mkdir -p "$wheel_dir"
wheel=$(ls "$wheel_dir"/mmcv-"$ver"-*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$wheel" ] && [ "$(cat "$wheel_dir/torch_version.txt" 2>/dev/null)" = "$torch_now" ]; then
  echo "reusing $wheel (built for torch $torch_now)"
else
  echo "compiling mmcv $ver with ops against torch $torch_now (about 10 minutes on 2 cores)"
  rm -f "$wheel_dir"/mmcv-*.whl
  src_dir=$(mktemp -d)
  trap 'rm -rf "$src_dir"' EXIT
  "$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$src_dir" "mmcv==$ver"
  tar xzf "$src_dir"/mmcv-"$ver".tar.gz -C "$src_dir"
  # torch >= 2.10 headers refuse to compile below C++20, but mmcv 2.1.0's setup.py pins
  # -std=c++17 for the CPU ops; raise the standard only where torch's headers demand it.
  torch_inc=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
  if grep -q "C++20 or later" "$torch_inc/ATen/ATen.h" 2>/dev/null; then
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$src_dir/mmcv-$ver/setup.py"
    echo "patched mmcv's setup.py for C++20 (torch $torch_now headers require it)"
  fi
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
    "$py" -m pip wheel --no-cache-dir --no-build-isolation --no-deps -w "$wheel_dir" "$src_dir/mmcv-$ver"
  echo "$torch_now" > "$wheel_dir/torch_version.txt"
  wheel=$(ls "$wheel_dir"/mmcv-"$ver"-*.whl | head -n 1)
fi
"$py" -m pip install -q --no-deps --force-reinstall "$wheel"
# mmcv's own requirements (addict, yapf, ...), now that the compiled package is in place.
"$py" -m pip install -q "mmcv==$ver" --no-build-isolation
echo "$torch_now" > "$marker"
