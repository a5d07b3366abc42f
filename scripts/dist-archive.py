#!/usr/bin/env python3
"""Packs one staged release folder into a reproducible archive for
scripts/build-release.sh: the same files give the same bytes.

    dist-archive.py zip|tar.gz OUT DIR

The archive holds DIR's files under DIR's own name (one top folder, so that
unpacking never scatters files), sorted by name, each dated
SOURCE_DATE_EPOCH (required; build-release.sh passes the last commit's
time), owned by 0:0 with no user names, mode 0755 if the file is executable
here, else 0644. zip: deflated, no extra fields (no Unix times or uids);
tar.gz: ustar, gzip without a name or time in its header. Only the Python
standard library, so no zip tool is needed."""

import gzip
import io
import os
import sys
import tarfile
import time
import zipfile


def members(root):
    """(archive name, path, mode) of every file under root, sorted."""
    top = os.path.basename(os.path.normpath(root))
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path):
                sys.exit(f"dist-archive.py: {path} is not a plain file")
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            found.append((f"{top}/{rel}", path, mode))
    return sorted(found)


def pack_zip(out, files, epoch):
    # zip dates are local calendar fields from 1980 on: UTC, clamped.
    stamp = time.gmtime(max(epoch, 315532800))[:6]
    with zipfile.ZipFile(out, "w") as archive:
        for name, path, mode in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the mode below is read
            info.external_attr = (0o100000 | mode) << 16
            with open(path, "rb") as f:
                archive.writestr(info, f.read(), compresslevel=9)


def pack_tar_gz(out, files, epoch):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, path, mode in files:
            info = tarfile.TarInfo(name)
            info.size = os.path.getsize(path)
            info.mtime = epoch
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(path, "rb") as f:
                archive.addfile(info, f)
    with open(out, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=epoch, compresslevel=9) as gz:
            gz.write(raw.getvalue())


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("zip", "tar.gz"):
        sys.exit(__doc__)
    kind, out, root = sys.argv[1:]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch or not epoch.isdigit():
        sys.exit("dist-archive.py: set SOURCE_DATE_EPOCH (seconds since 1970)")
    files = members(root)
    if not files:
        sys.exit(f"dist-archive.py: nothing in {root}")
    tmp = out + ".tmp"
    (pack_zip if kind == "zip" else pack_tar_gz)(tmp, files, int(epoch))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
