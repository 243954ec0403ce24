"""bench/order.sh's and make bench's helper for bench/hot-path.order.

order.py BINARY CALLGRIND_OUT...: the (mangled) names of the functions of BINARY that ran in the
callgrind profiles, one per line, sorted. Callgrind names a file's objects and functions once, as
`ob=(N) path` / `fn=(N) name` (or on `cob=`/`cfn=` lines), then by N only; a function's costs
follow a `fn=` line under the `ob=` of its object. Cycle members carry a `'N` suffix, which is not
part of the symbol; code without a symbol is named by its address, which the next build does not
keep, and is left out.

order.py --check BINARY ORDER_FILE: how many of the file's functions BINARY has, and whether its
.text starts with one of them (the link applied the order); exit 1 if not."""
import re
import subprocess
import sys

import elf


def ran_in(binary, profiles):
    ran = set()
    for profile in profiles:
        objects, names, current = {}, {}, None
        with open(profile, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = re.match(r"^(c?)ob=\((\d+)\)(?: (.*))?$", line)
                if m:
                    if m.group(3):
                        objects[m.group(2)] = m.group(3)
                    if not m.group(1):
                        current = objects.get(m.group(2))
                    continue
                m = re.match(r"^(c?)fn=\((\d+)\)(?: (.*))?$", line)
                if not m:
                    continue
                if m.group(3):
                    names[m.group(2)] = re.sub(r"'\d+$", "", m.group(3))
                name = names.get(m.group(2), "0x")
                if not m.group(1) and current == binary and not name.startswith("0x"):
                    ran.add(name)
    return ran


def check(binary, order_file):
    with open(order_file) as f:
        listed = {line.strip() for line in f if line.strip()}
    sections = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
    text = int(re.search(r"\] \.text\s+PROGBITS\s+([0-9a-f]+)", sections).group(1), 16)
    functions = elf.functions(binary)
    found = listed & functions.keys()
    first = min((address, name) for name, address in functions.items() if address >= text)[1]
    if first not in listed:
        sys.exit(f"{binary}'s code does not start with the hot path ({first}): the link did not apply "
                 f"{order_file} (the Makefile's LINKER_FLAGS)")
    print(f"hot-path order: {len(found)} of the {len(listed)} functions {order_file} lists are in the binary, "
          f"placed first ('make hot-path-order' lists them again)")


if sys.argv[1] == "--check":
    check(sys.argv[2], sys.argv[3])
else:
    ran = ran_in(sys.argv[1], sys.argv[2:])
    if not ran:
        sys.exit(f"order.py: no function of {sys.argv[1]} in {' '.join(sys.argv[2:])}")
    print("\n".join(sorted(ran)))
