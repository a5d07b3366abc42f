#!/usr/bin/env python3
"""Checks the Windows executable built here, without Windows tools:

    scripts/pe-check.py FILE.exe

- a PE32+ x86-64 executable for the console subsystem (a GUI-subsystem
  program would get no console: no output, no Ctrl+C);
- every DLL it imports (the import table and the delay-load table) is part
  of Windows 10: the kernel, the C runtime (UCRT, api-ms-win-crt-*),
  sockets, crypto, the shell's known folders. A MinGW runtime DLL
  (libgcc_s_seh-1.dll, libwinpthread-1.dll, ...) would be missing on the
  owner's PC; user32.dll is refused too: a console program that loads it no
  longer gets the log-off and shutdown events (SetConsoleCtrlHandler);
- no section is both writable and executable.
Prints the imported DLLs; exit status 0 if every check passes, 1 otherwise."""

import re
import struct
import sys

IMAGE_FILE_MACHINE_AMD64 = 0x8664
PE32_PLUS = 0x20B
SUBSYSTEMS = {2: "Windows GUI", 3: "Windows console"}
IMAGE_SCN_MEM_EXECUTE = 0x20000000
IMAGE_SCN_MEM_WRITE = 0x80000000
SYSTEM_DLLS = re.compile(
    r"^(kernel32|kernelbase|ntdll|advapi32|bcrypt|bcryptprimitives|ws2_32|mswsock|userenv|"
    r"shell32|ole32|oleaut32|secur32|crypt32|iphlpapi|psapi|synchronization|ucrtbase|msvcrt|"
    r"api-ms-win-(crt|core)-[a-z0-9-]+)\.dll$",
    re.IGNORECASE,
)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    data = open(path, "rb").read()
    failures = 0

    def check(good, what):
        nonlocal failures
        print(f"{'ok  ' if good else 'FAIL'}  {what}")
        failures += 0 if good else 1

    print(f"{path}: {len(data)} B")
    if data[:2] != b"MZ":
        check(False, "no MZ header")
        return 1
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe:pe + 4] != b"PE\0\0":
        check(False, "no PE signature")
        return 1
    machine, nsections, _, _, _, opt_size, characteristics = struct.unpack_from("<HHIIIHH", data, pe + 4)
    opt = pe + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    check(machine == IMAGE_FILE_MACHINE_AMD64 and magic == PE32_PLUS,
          f"PE32+ x86-64 (machine {machine:#x}, optional header magic {magic:#x})")
    check(not characteristics & 0x2000, "an executable, not a DLL")
    subsystem = struct.unpack_from("<H", data, opt + 68)[0]
    check(subsystem == 3, f"subsystem: {SUBSYSTEMS.get(subsystem, subsystem)}")
    ndirs = struct.unpack_from("<I", data, opt + 108)[0]
    dirs = [struct.unpack_from("<II", data, opt + 112 + 8 * i) for i in range(ndirs)]

    sections = []
    table = opt + opt_size
    for i in range(nsections):
        name, vsize, va, rawsize, rawptr = struct.unpack_from("<8sIIII", data, table + 40 * i)
        flags = struct.unpack_from("<I", data, table + 40 * i + 36)[0]
        sections.append((name.rstrip(b"\0").decode(errors="replace"), va, max(vsize, rawsize), rawptr, flags))
    wx = [s[0] for s in sections if s[4] & IMAGE_SCN_MEM_EXECUTE and s[4] & IMAGE_SCN_MEM_WRITE]
    check(not wx, f"no writable and executable section {wx if wx else ''}".rstrip())

    def at(rva):
        for _, va, size, rawptr, _ in sections:
            if va <= rva < va + size:
                return rva - va + rawptr
        raise ValueError(f"RVA {rva:#x} is in no section")

    def name_at(rva):
        start = at(rva)
        return data[start:data.index(b"\0", start)].decode(errors="replace")

    dlls = []
    for index, size, delay in ((1, 20, False), (13, 32, True)):
        if index >= len(dirs) or not dirs[index][0]:
            continue
        entry = at(dirs[index][0])
        while True:
            fields = struct.unpack_from("<5I" if not delay else "<8I", data, entry)
            if not any(fields):
                break
            name_rva = fields[3] if not delay else fields[1]
            dlls.append(name_at(name_rva) + (" (delay-loaded)" if delay else ""))
            entry += size
    check(bool(dlls), f"imports {len(dlls)} DLLs")
    for dll in dlls:
        base = dll.split(" ")[0]
        good = bool(SYSTEM_DLLS.match(base))
        check(good, f"  {dll}" + ("" if good else " (not a Windows system DLL allowed here)"))
    print(f"{'passed' if not failures else f'FAILED: {failures} check(s)'}: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
