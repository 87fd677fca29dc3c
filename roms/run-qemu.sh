#!/usr/bin/env bash
# Runs nestor's guest images under QEMU TCG, as a reference for what they
# print and how they exit. Optional: nothing in the build or the tests needs
# QEMU (apt-get install qemu-system-x86 to use this).
#
#   roms/run-qemu.sh [IMAGE...]     (default: every image in roms/images.toml)
#
# Images are taken from the newest cargo build's OUT_DIR (target/*/build).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$(ls -td target/*/build/nestor-*/out/roms 2>/dev/null | head -1)
[ -n "$dir" ] || { echo "no built images: run cargo build first" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not found" >&2; exit 2; }

# name|args|smp|cpu|expect_status from roms/images.toml.
table=$(awk '
  function flush() { if (name != "") print name "|" args "|" smp "|" cpu "|" status }
  /^\[/ { flush(); name = substr($0, 2, length($0) - 2); args = ""; smp = 1; cpu = "max"; status = 1; next }
  /^[a-z_]+ *=/ {
    key = $1; val = $0; sub(/^[^=]*= */, "", val); gsub(/^"|"$/, "", val)
    if (key == "args") args = val; else if (key == "smp") smp = val
    else if (key == "cpu") cpu = val; else if (key == "expect_status") status = val
  }
  END { flush() }' roms/images.toml)

want=("$@")
fails=0
while IFS='|' read -r name args smp cpu status; do
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $name " ]]; then continue; fi
  out=$(timeout 300 qemu-system-x86_64 -nographic -serial stdio -monitor none -no-reboot -net none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 -device pc-testdev -device pci-testdev \
    -kernel "$dir/$name.elf32" -append "$args" -smp "$smp" -m 128 -cpu "$cpu" -accel tcg </dev/null 2>&1)
  rc=$?
  # QEMU exits with 0 on a shutdown (triple fault with -no-reboot).
  [ "$status" = "-1" ] && expect=0 || expect=$status
  pass=$(grep -o 'PASS: ' <<<"$out" | wc -l); fail=$(grep -o 'FAIL: ' <<<"$out" | wc -l)
  skip=$(grep -o 'SKIP: ' <<<"$out" | wc -l)
  verdict=ok; [ "$rc" = "$expect" ] || { verdict=BAD; fails=$((fails + 1)); }
  printf '%-12s status %3s (want %3s) %s  PASS %3d  FAIL %2d  SKIP %2d\n' "$name" "$rc" "$expect" "$verdict" "$pass" "$fail" "$skip"
  if [ "$verdict" = BAD ] || [ -n "${VERBOSE:-}" ]; then grep -E '(FAIL|SKIP|SUMMARY):|unhandled' <<<"$out" | sed 's/^/    /'; fi
done <<<"$table"
exit $((fails > 0))
