"""Which event source suits the results folder: native events, or polling where change events
are known not to arrive. Pure: the caller reads /proc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WATCH_MODES = ("auto", "native", "polling")
# File systems on which inotify and friends do not report changes made elsewhere.
REMOTE_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "9p", "drvfs", "afs", "ceph", "glusterfs",
    "lustre", "gpfs", "davfs", "vboxsf", "vmhgfs", "prl_fs", "virtiofs", "sshfs",
})


@dataclass(frozen=True)
class ModeChoice:
    mode: str  # "native" or "polling"
    reason: str


def choose_watch_mode(
    *, requested: str, results_dir: Path, proc_version: str | None, proc_mounts: str | None
) -> ModeChoice:
    """Native events, except where they are known not to arrive (then polling).

    ``proc_version`` and ``proc_mounts`` are the texts of /proc/version and /proc/mounts
    (None where there is no /proc, e.g. macOS: native events work there).
    """
    if requested not in WATCH_MODES:
        raise ValueError(f"unknown watch mode {requested!r}")
    if requested != "auto":
        return ModeChoice(requested, f"{requested} mode was asked for")
    mount = _mount_of(results_dir, proc_mounts) if proc_mounts else None
    if mount is None:
        return ModeChoice("native", "native events (no mount table to suggest otherwise)")
    mount_point, fstype = mount
    on_wsl = proc_version is not None and "microsoft" in proc_version.lower()
    if on_wsl and fstype in ("9p", "drvfs"):
        return ModeChoice("polling", f"WSL with the results on a Windows drive ({fstype} at {mount_point}): "
                                     "Windows does not deliver change events there")
    if fstype in REMOTE_FILESYSTEMS or fstype.startswith("fuse"):
        return ModeChoice("polling", f"the results are on a {fstype} file system ({mount_point}), "
                                     "where change events are not reliable")
    return ModeChoice("native", f"native events on a local {fstype} file system ({mount_point})")


def _mount_of(path: Path, proc_mounts: str) -> tuple[str, str] | None:
    """The (mount point, file system type) holding ``path``: the longest matching mount point."""
    best: tuple[str, str] | None = None
    target = str(path)
    for line in proc_mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces, tabs and newlines as octal sequences.
        mount_point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= len(best[0])):
            best = (mount_point, fields[2])
    return best


def read_proc(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None
