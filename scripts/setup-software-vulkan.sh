#!/usr/bin/env bash
# scripts/setup-software-vulkan.sh DEST: a software Vulkan driver for Dawn (the `webgpu` package) on a machine with no
# GPU, so WGSL kernels really execute in tests. Mesa 25 lavapipe from Debian bookworm-backports is unpacked
# into DEST (the system's apt sources stay as they are); the mirror is read from the machine's own apt sources.
# Prints the environment to export. Needs root for libvulkan1/libllvm15 when they are missing.
# Debian 12's own lavapipe (Mesa 22) is refused by Dawn ("shaderUniform*ArrayDynamicIndexing required").
# Alternative with no backports: `apt-get install -y chromium libvulkan1` and
#   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json   (SwiftShader: no shader-f16, slower).
set -euo pipefail
DEST=$(realpath -m "${1:-$PWD/.cache/lavapipe}")
if [ -f "$DEST/lvp_icd.json" ]; then echo "export VK_ICD_FILENAMES=$DEST/lvp_icd.json NODEVICE_SELECT=1"; exit 0; fi
mkdir -p "$DEST"/apt/lists/partial "$DEST"/apt/cache/archives/partial "$DEST"/root
dpkg -s libvulkan1 libllvm15 >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan1 libllvm15 >&2; }
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(http[^[:space:]]*\/debian\)[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$mirror" ] || { echo "setup-software-vulkan: no Debian mirror found in the apt sources" >&2; exit 1; }
echo "deb $mirror bookworm-backports main" > "$DEST/apt/sources.list"
O=(-o Dir::Etc::SourceList="$DEST/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
   -o Dir::State::Lists="$DEST/apt/lists" -o Dir::Cache="$DEST/apt/cache" -o Debug::NoLocking=1)
apt-get "${O[@]}" update -qq >&2
( cd "$DEST" && apt-get "${O[@]}" download mesa-vulkan-drivers/bookworm-backports >/dev/null 2>&1 )
dpkg-deb -x "$DEST"/mesa-vulkan-drivers_*.deb "$DEST/root"
lib="$DEST/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
[ -f "$lib" ] || { echo "setup-software-vulkan: lavapipe not found in the package" >&2; exit 1; }
printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.4.305"}}\n' "$lib" > "$DEST/lvp_icd.json"
echo "export VK_ICD_FILENAMES=$DEST/lvp_icd.json NODEVICE_SELECT=1"
