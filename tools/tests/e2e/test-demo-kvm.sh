#!/bin/bash
# test-demo-kvm.sh SRCDIR BUILDDIR OUT: the demo on a host whose KVM is
# present but cannot boot a guest (as on hosts with a PVM-based KVM), as
# TAP.  Runs under xensim (meson starts it with "xensim run --").
#
# A wrapper stands in for QEMU: given "-accel kvm" it starts the real
# QEMU with its CPUs stopped (-S), so no firmware runs and the kernel
# never prints, which is what such a host shows; any other command line
# goes to the real QEMU unchanged.  Then:
#   - "--kvm on" fails within seconds and says why;
#   - with no option the demo says, in one line, that KVM is present but
#     did not boot the guest, boots under TCG and passes;
#   - the contact sheet and the animation it printed are checked by
#     tools/tests/unit/test-contactsheet.py (size, last frame in its tile);
#   - a guest that stops in its kernel (a wrapper drops the initramfs) is
#     reported at once with the stage it reached.
#
# SPDX-License-Identifier: GPL-2.0-or-later

set -u
SRCDIR=$1
BUILDDIR=$2
OUT=$3
. "$SRCDIR/tools/tests/tap.sh"

rm -rf "$OUT"
mkdir -p "$OUT"
wrapper=$OUT/qemu-broken-kvm
cat > "$wrapper" <<EOF
#!/bin/bash
args=() prev= broken=0
for a in "\$@"; do
    if [ "\$prev" = -accel ] && [ "\${a%%,*}" = kvm ]; then
        a=tcg broken=1
    fi
    args+=("\$a")
    prev=\$a
done
[ \$broken = 0 ] || args+=(-S)
exec "$BUILDDIR/qemu-system-x86_64" "\${args[@]}"
EOF
chmod +x "$wrapper"

demo() {
    /usr/bin/python3 "$SRCDIR/tools/demo.py" --qemu "$wrapper" --vnc 0 \
        --out "$OUT" --timeout 240 "$@"
}

start=$SECONDS
demo --kvm on > "$OUT/kvm-on.log" 2>&1
rc=$?
took=$((SECONDS - start))
sed 's/^/# /' "$OUT/kvm-on.log" | tail -n 5
ok "$([ $rc = 1 ] && echo 0 || echo 1)" "--kvm on with a KVM that cannot boot: exit status $rc (expected 1)"
ok "$([ $took -lt 60 ] && echo 0 || echo 1)" "--kvm on gives up in $took s (well before the guest's timeout)"
grep -q 'FAIL: --kvm on: KVM is present but did not boot the guest' "$OUT/kvm-on.log"
ok $? "--kvm on says why"

demo > "$OUT/auto.log" 2>&1
rc=$?
sed 's/^/# /' "$OUT/auto.log" | grep -v 'frames received' | tail -n 25
ok "$([ $rc = 0 ] && echo 0 || echo 1)" "default (--kvm auto): exit status $rc"
n=$(grep -cx '\[demo\] KVM is present but did not boot the guest: using TCG' "$OUT/auto.log")
ok "$([ "$n" = 1 ] && echo 0 || echo 1)" "the fallback is said in one line ($n found)"
grep -q '^\[demo\] booting the guest on VGA (tcg)' "$OUT/auto.log"
ok $? "the guest boots under TCG"
grep -q '^\[demo\] PASS: frame 60 of the test pattern arrived pixel-exact' "$OUT/auto.log"
ok $? "the last frame arrived pixel-exact"
grep -q "^\[demo\]   contact sheet: $OUT/vga/contact-sheet.png\$" "$OUT/auto.log" &&
    grep -q "^\[demo\]   animation (APNG): $OUT/vga/run.apng\$" "$OUT/auto.log"
ok $? "the contact sheet and the animation are printed"
grep -q '^\[demo\] .* frames received: [0-9]' "$OUT/auto.log"
ok $? "frames received are printed as they arrive"

# A guest that stops in its kernel (no initramfs: the kernel panics) is
# named as such, at once.
nokernel=$OUT/qemu-no-initrd
cat > "$nokernel" <<EOF
#!/bin/bash
args=() skip=0
for a in "\$@"; do
    if [ \$skip = 1 ]; then skip=0; continue; fi
    if [ "\$a" = -initrd ]; then skip=1; continue; fi
    args+=("\$a")
done
exec "$BUILDDIR/qemu-system-x86_64" "\${args[@]}"
EOF
chmod +x "$nokernel"
start=$SECONDS
/usr/bin/python3 "$SRCDIR/tools/demo.py" --qemu "$nokernel" --kvm off \
    --vnc 0 --out "$OUT/stall" --timeout 240 > "$OUT/stall.log" 2>&1
rc=$?
took=$((SECONDS - start))
grep -v 's  frames received' "$OUT/stall.log" | sed 's/^/# /' | tail -n 3
ok "$([ $rc = 1 ] && [ $took -lt 120 ] && echo 0 || echo 1)" "a guest whose kernel panics: exit status $rc after $took s"
grep -q '^\[demo\] the guest cannot go on: stopped in the kernel .*Kernel panic' "$OUT/stall.log"
ok $? "the demo names the stage (kernel) and the panic"

/usr/bin/python3 "$SRCDIR/tools/tests/unit/test-contactsheet.py" "$OUT/vga" \
    > "$OUT/sheet.tap" 2>&1
rc=$?
while read -r line; do
    case "$line" in
    "ok "*) ok 0 "contact sheet: ${line#ok * - }" ;;
    "not ok "*) ok 1 "contact sheet: ${line#not ok * - }" ;;
    "1.."*) ;;
    *) echo "# $line" ;;
    esac
done < "$OUT/sheet.tap"
ok $rc "test-contactsheet.py exit status $rc"
tap_end
