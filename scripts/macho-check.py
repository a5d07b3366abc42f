#!/usr/bin/env python3
"""Checks a macOS executable built here, without Apple's tools (nothing on
this machine can run or inspect a Mach-O file otherwise):

    scripts/macho-check.py FILE --arch arm64|x86_64 [--min-macos 11.0] [--signed]

- a thin 64-bit little-endian Mach-O executable (MH_EXECUTE, PIE) of that
  CPU, with an entry point (LC_MAIN) and Apple's dynamic linker;
- the minimum macOS (LC_BUILD_VERSION, platform macOS) is exactly
  --min-macos: zig's default would be the newest macOS, which older Macs
  refuse to start;
- it links only the system's libraries: /usr/lib/libSystem*, libiconv,
  libcharset (any framework, or a library from Homebrew, would be missing
  on the owner's Mac);
- with --signed (arm64: Apple silicon runs no unsigned code): an embedded
  ad-hoc code signature whose CodeDirectory covers the whole file up to the
  signature and whose page hashes all match the file's bytes. A changed
  byte anywhere before the signature (a bad strip, a patch after linking)
  fails here as it would on the Mac ("killed: 9").
Prints what it found; exit status 0 if every check passes, 1 otherwise.
Started as scripts/explore-25/macho-check.py (issue 25's scoping)."""

import argparse
import hashlib
import re
import struct
import sys

MH_MAGIC_64 = 0xFEEDFACF
FAT_MAGICS = (0xCAFEBABE, 0xBEBAFECA, 0xCAFEBABF, 0xBFBAFECA)
MH_EXECUTE = 2
MH_PIE = 0x200000
CPUS = {0x0100000C: "arm64", 0x01000007: "x86_64"}
LC_REQ_DYLD = 0x80000000
LC_LOAD_DYLIB = 0xC
LC_LOAD_WEAK_DYLIB = 0x18 | LC_REQ_DYLD
LC_REEXPORT_DYLIB = 0x1F | LC_REQ_DYLD
LC_LAZY_LOAD_DYLIB = 0x20
LC_LOAD_UPWARD_DYLIB = 0x23 | LC_REQ_DYLD
DYLIB_COMMANDS = (LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB)
LC_LOAD_DYLINKER = 0xE
LC_CODE_SIGNATURE = 0x1D
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
LC_MAIN = 0x28 | LC_REQ_DYLD
PLATFORM_MACOS = 1
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
CS_ADHOC = 0x2
HASHES = {1: hashlib.sha1, 2: hashlib.sha256}
ALLOWED_DYLIB = re.compile(r"^/usr/lib/lib(System|iconv|charset)(\.[A-Za-z0-9]+)*\.dylib$")


def version(v):
    return f"{v >> 16}.{(v >> 8) & 0xFF}" + (f".{v & 0xFF}" if v & 0xFF else "")


def cstring(data, start, end):
    return data[start:end].split(b"\0")[0].decode("utf-8", "replace")


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, what):
        print(f"ok    {what}")

    def fail(self, what):
        print(f"FAIL  {what}")
        self.failures += 1

    def check(self, good, what):
        (self.ok if good else self.fail)(what)


def check_signature(data, dataoff, datasize, report):
    """The embedded signature's CodeDirectory and its page hashes."""
    if dataoff + datasize > len(data) or dataoff < 32:
        return report.fail(f"code signature at {dataoff}+{datasize} lies outside the file ({len(data)} B)")
    magic, length, count = struct.unpack_from(">III", data, dataoff)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        return report.fail(f"no embedded signature superblob at {dataoff} (magic {magic:#x})")
    directory = None
    for i in range(count):
        slot, offset = struct.unpack_from(">II", data, dataoff + 12 + 8 * i)
        if slot == CSSLOT_CODEDIRECTORY:
            directory = dataoff + offset
    if directory is None:
        return report.fail("the signature has no CodeDirectory")
    (magic, length, cd_version, flags, hash_offset, ident_offset, n_special, n_code,
     code_limit, hash_size, hash_type, _platform, page_log) = struct.unpack_from(">IIIIIIIIIBBBB", data, directory)
    if magic != CSMAGIC_CODEDIRECTORY:
        return report.fail(f"CodeDirectory magic {magic:#x}")
    if hash_type not in HASHES or hash_size != HASHES[hash_type]().digest_size:
        return report.fail(f"unknown hash type {hash_type} (size {hash_size})")
    identifier = cstring(data, directory + ident_offset, directory + length)
    page = 1 << page_log if page_log else 0
    report.check(flags & CS_ADHOC, f"ad-hoc signature (flags {flags:#x}), identifier {identifier!r}, "
                 f"CodeDirectory v{cd_version:#x}, {HASHES[hash_type]().name}")
    report.check(code_limit == dataoff,
                 f"the signature covers the file up to itself (code limit {code_limit}, signature at {dataoff})")
    expected_pages = -(-code_limit // page) if page else 1
    report.check(n_code == expected_pages, f"{n_code} page hashes for {expected_pages} pages of {page} B")
    bad = []
    for n in range(n_code):
        chunk = data[n * page:min((n + 1) * page, code_limit)] if page else data[:code_limit]
        want = data[directory + hash_offset + n * hash_size:directory + hash_offset + (n + 1) * hash_size]
        if HASHES[hash_type](chunk).digest()[:hash_size] != want:
            bad.append(n)
    if bad:
        report.fail(f"page hashes: {len(bad)} of {n_code} differ from the file "
                    f"(pages {bad[:8]}{' ...' if len(bad) > 8 else ''})")
    else:
        report.ok(f"page hashes: all {n_code} match the file")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--arch", required=True, choices=sorted(CPUS.values()))
    parser.add_argument("--min-macos", default="11.0")
    parser.add_argument("--signed", action="store_true", help="require a valid ad-hoc signature")
    args = parser.parse_args()
    data = open(args.file, "rb").read()
    report = Report()
    print(f"{args.file}: {len(data)} B")
    if len(data) < 32:
        report.fail("too short for a Mach-O header")
        return 1
    magic, cputype, _, filetype, ncmds, sizeofcmds, flags, _ = struct.unpack_from("<IiiIIIII", data, 0)
    if magic != MH_MAGIC_64:
        kind = "a universal (fat) file" if struct.unpack_from(">I", data, 0)[0] in FAT_MAGICS else f"magic {magic:#x}"
        report.fail(f"not a thin 64-bit little-endian Mach-O: {kind}")
        return 1
    cpu = CPUS.get(cputype & 0xFFFFFFFF, hex(cputype & 0xFFFFFFFF))
    report.check(cpu == args.arch, f"CPU {cpu} (wanted {args.arch})")
    report.check(filetype == MH_EXECUTE and flags & MH_PIE, f"a position-independent executable (filetype {filetype}, flags {flags:#x})")

    offset, minos, sdk, dylibs, dylinker, has_main, signature = 32, None, None, [], None, False, None
    end = 32 + sizeofcmds
    for _ in range(ncmds):
        if offset + 8 > end:
            report.fail("load commands run past their stated size")
            return 1
        cmd, size = struct.unpack_from("<II", data, offset)
        if size < 8 or offset + size > end:
            report.fail(f"load command {cmd:#x} at {offset} has a bad size {size}")
            return 1
        if cmd == LC_BUILD_VERSION:
            platform, minos_raw, sdk_raw = struct.unpack_from("<III", data, offset + 8)
            report.check(platform == PLATFORM_MACOS, f"LC_BUILD_VERSION platform {platform} (1 = macOS)")
            minos, sdk = version(minos_raw), version(sdk_raw)
        elif cmd == LC_VERSION_MIN_MACOSX:
            minos_raw, sdk_raw = struct.unpack_from("<II", data, offset + 8)
            minos, sdk = version(minos_raw), version(sdk_raw)
        elif cmd in DYLIB_COMMANDS:
            name_offset = struct.unpack_from("<I", data, offset + 8)[0]
            dylibs.append(cstring(data, offset + name_offset, offset + size))
        elif cmd == LC_LOAD_DYLINKER:
            name_offset = struct.unpack_from("<I", data, offset + 8)[0]
            dylinker = cstring(data, offset + name_offset, offset + size)
        elif cmd == LC_MAIN:
            has_main = True
        elif cmd == LC_CODE_SIGNATURE:
            signature = struct.unpack_from("<II", data, offset + 8)
        offset += size

    report.check(has_main and dylinker == "/usr/lib/dyld", f"entry point (LC_MAIN) and dynamic linker {dylinker}")
    report.check(minos == args.min_macos, f"minimum macOS {minos} (wanted {args.min_macos}), SDK {sdk}")
    report.check(bool(dylibs), f"links {len(dylibs)} libraries")
    for lib in dylibs:
        report.check(ALLOWED_DYLIB.match(lib), f"  {lib}" + ("" if ALLOWED_DYLIB.match(lib) else " (not a system library allowed here)"))
    if signature is None:
        report.check(not args.signed, "no code signature" + (" (required)" if args.signed else " (not required)"))
    else:
        check_signature(data, signature[0], signature[1], report)
    print(f"{'passed' if not report.failures else f'FAILED: {report.failures} check(s)'}: {args.file}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
