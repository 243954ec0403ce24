"""What the bench scripts read of an ELF binary, through binutils' nm and readelf.

elf.py offset BINARY SYMBOL: the file offset of SYMBOL (a function), as `perf probe -x BINARY
0xOFFSET` takes a bare address (lld starts the code segment a page past its file offset, so the
symbol's address is not it)."""
import re
import subprocess
import sys


def functions(binary):
    """The binary's functions (nm's t and T symbols), each name with its address."""
    symbols = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in symbols.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "tT":
            found.setdefault(fields[2], int(fields[0], 16))
    return found


def file_offset(binary, address):
    """Where in the file the loaded address `address` comes from (its LOAD segment's mapping)."""
    segments = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    for offset, start, size in re.findall(r"^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)",
                                          segments, re.M):
        if int(start, 16) <= address < int(start, 16) + int(size, 16):
            return address - int(start, 16) + int(offset, 16)
    sys.exit(f"elf.py: {hex(address)} is in no LOAD segment of {binary}")


if __name__ == "__main__" and sys.argv[1] == "offset":
    binary, symbol = sys.argv[2], sys.argv[3]
    address = functions(binary).get(symbol)
    if address is None:
        sys.exit(f"elf.py: no function {symbol} in {binary}")
    print(hex(file_offset(binary, address)))
