"""Which user a service Pantau starts runs as: never root when it can be avoided.

Started as root, Mosquitto runs as ``mosquitto`` (the Debian package's system
user; the ``user`` directive of its config) provided that user can reach the
service's directory; the directory and its files are handed to it (Mosquitto
reads its password file and ACL, and writes its persistence file, after dropping
root). Where that is impossible (no such user, or a parent directory it cannot
enter) Mosquitto stays root and a warning says why.
"""

from __future__ import annotations

import getpass
import logging
import os
import pwd
from pathlib import Path

log = logging.getLogger(__name__)


def _can_enter(path: Path, user: pwd.struct_passwd, groups: set[int]) -> bool:
    st = path.stat()
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid in groups:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def reachable(directory: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may enter every parent of ``directory``."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    return all(_can_enter(parent, user, groups) for parent in directory.resolve().parents)


def hand_over(directory: Path, uid: int, gid: int) -> None:
    """``chown -R uid:gid directory`` (its files only; not what lies outside)."""
    os.chown(directory, uid, gid)
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def service_user(directory: Path, wanted: str = "mosquitto") -> str:
    """The user to run a service as (see the module's text); hands ``directory`` to it."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        user = pwd.getpwnam(wanted)
    except KeyError:
        log.warning("running %s as root: there is no user %r to run it as", directory, wanted)
        return "root"
    if not reachable(directory, user):
        log.warning(
            "running the service in %s as root: user %r cannot enter a parent directory "
            "(give it o+x, or set PANTAU_HOME elsewhere)",
            directory,
            wanted,
        )
        return "root"
    hand_over(directory, user.pw_uid, user.pw_gid)
    return wanted


def owned_like_directory(fd: int, directory: Path) -> None:
    """Give a file being written into ``directory`` the directory's owner (when root)."""
    if os.geteuid() == 0:
        st = directory.stat()
        os.fchown(fd, st.st_uid, st.st_gid)
