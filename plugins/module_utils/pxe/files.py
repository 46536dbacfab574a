# -*- coding: utf-8 -*-
# Copyright: virtnet.networking contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TFTP root on the hypervisor's file system, below an injectable root
(:class:`fsroot.FsRoot`), so the same code runs on a host and on a fake tree
in the unit tests.

dnsmasq drops its privileges (to ``nobody`` unless configured otherwise)
before it serves a file, so the root and every boot file must be readable
by that user; none of it may be world-writable, or any local user could
swap the boot loader of every guest on the network.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat

from ansible_collections.virtnet.networking.plugins.module_utils.errors import ValidationError, VirtnetError
from ansible_collections.virtnet.networking.plugins.module_utils.fsroot import FsRoot
# The host state types live in the model; imported here under their old names.
from ansible_collections.virtnet.networking.plugins.module_utils.pxe.model import Entry, Owner  # noqa: F401

# Whose SELinux label the TFTP root copies: libvirt's lease helper (run by
# dnsmasq), as the documented procedure does, wherever the distribution
# installs it; dnsmasq itself as the last resort.
SELINUX_REFERENCES = ("/usr/libexec/libvirt_leaseshelper", "/usr/lib/libvirt/libvirt_leaseshelper",
                      "/usr/sbin/dnsmasq")


# --------------------------------------------------------------------------
# users and groups (from the root's /etc files when the root is not "/")
# --------------------------------------------------------------------------

def _db(fs: FsRoot, path: str) -> list:
    return [line.split(":") for line in (fs.read(path, "") or "").splitlines() if line and not line.startswith("#")]


def resolve_owner(fs: FsRoot, user: str, group: str | None) -> Owner:
    """``owner``/``group`` -> ids; an unknown name is a ValidationError."""
    if fs.root == "/":
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            raise ValidationError("owner", user, "no such user on the hypervisor")
        uid, gid = pw.pw_uid, pw.pw_gid
        if group is not None:
            try:
                gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise ValidationError("group", group, "no such group on the hypervisor")
        return Owner(user=user, uid=uid, group=group or _group_name(fs, gid), gid=gid)
    users = {f[0]: f for f in _db(fs, "/etc/passwd") if len(f) >= 4}
    if user not in users:
        raise ValidationError("owner", user, "no such user on the hypervisor")
    uid, gid = int(users[user][2]), int(users[user][3])
    if group is not None:
        groups = {f[0]: int(f[2]) for f in _db(fs, "/etc/group") if len(f) >= 3}
        if group not in groups:
            raise ValidationError("group", group, "no such group on the hypervisor")
        gid = groups[group]
    return Owner(user=user, uid=uid, group=group or _group_name(fs, gid), gid=gid)


def _group_name(fs: FsRoot, gid: int) -> str:
    if fs.root == "/":
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)
    for f in _db(fs, "/etc/group"):
        if len(f) >= 3 and f[2] == str(gid):
            return f[0]
    return str(gid)


def _user_name(fs: FsRoot, uid: int) -> str:
    if fs.root == "/":
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)
    for f in _db(fs, "/etc/passwd"):
        if len(f) >= 3 and f[2] == str(uid):
            return f[0]
    return str(uid)


def names(fs: FsRoot, entry: Entry) -> tuple:
    """(user, group) names of an entry's owner."""
    return _user_name(fs, entry.uid), _group_name(fs, entry.gid)


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

def context_of(real: str) -> str | None:
    try:
        return os.getxattr(real, "security.selinux", follow_symlinks=False).rstrip(b"\0").decode()
    except (OSError, AttributeError):
        return None


def sha256_file(real: str) -> str:
    h = hashlib.sha256()
    with open(real, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stat_entry(fs: FsRoot, path: str, *, digest: bool = False, selinux: bool = False) -> Entry:
    """What is at ``path`` (a host path), without following a final symlink
    for the kind (a symlinked boot file is reported as ``other``)."""
    real = fs.path(path)
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        return Entry(path=path)
    except NotADirectoryError:
        return Entry(path=path, exists=True, kind="other")  # a parent is a file
    kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
    return Entry(path=path, exists=True, kind=kind, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                 size=st.st_size if kind == "file" else None,
                 sha256=sha256_file(real) if digest and kind == "file" else None,
                 context=context_of(real) if selinux else None)


def blocking_parent(fs: FsRoot, path: str) -> str | None:
    """The first existing ancestor of ``path`` that is not a directory."""
    parts = [p for p in path.split("/") if p]
    cur = ""
    for p in parts[:-1]:
        cur += "/" + p
        real = fs.path(cur)
        if os.path.lexists(real) and not os.path.isdir(real):
            return cur
    return None


def symlink_below(fs: FsRoot, root: str, name: str) -> tuple | None:
    """``(host path, link text)`` of the first component of ``name`` (a path
    relative to the TFTP root ``root``) that is a symlink, or None.

    Only the components below the root are checked: the root and its
    ancestors are the administrator's own choice (``tftp_root``), whereas
    anything inside the root may have been planted by whoever can write
    there, and following it would make the module write, chown or chmod a
    file outside the root."""
    cur = root.rstrip("/")
    for part in name.split("/"):
        cur += "/" + part
        real = fs.path(cur)
        try:
            st = os.lstat(real)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(st.st_mode):
            return cur, os.readlink(real)
    return None


def source_digest(fs: FsRoot, option: str, src: str | None, content: str | None) -> tuple:
    """(size, sha256) of what a boot file should hold."""
    if content is not None:
        data = content.encode()
        return len(data), hashlib.sha256(data).hexdigest()
    real = fs.path(src)
    if not os.path.isfile(real):
        reason = "is a directory, not a file" if os.path.isdir(real) else "no such file on the hypervisor"
        raise ValidationError(option + ".src", src, reason)
    if not os.access(real, os.R_OK):
        raise ValidationError(option + ".src", src, "not readable")
    return os.path.getsize(real), sha256_file(real)


# --------------------------------------------------------------------------
# changing
# --------------------------------------------------------------------------

def make_dir(fs: FsRoot, path: str, owner: Owner) -> list:
    """Create the TFTP root ``path`` (parents as root-owned 0755, like
    ``mkdir -p``); returns the host paths created, for a roll back.  The
    root's ancestors may be symlinks (the administrator's choice); the root
    itself may not (have() refuses it, and the O_NOFOLLOW open here catches
    a link planted since)."""
    created = []
    parts = [p for p in path.split("/") if p]
    cur = ""
    for i, p in enumerate(parts):
        cur += "/" + p
        real = fs.path(cur)
        last = i == len(parts) - 1
        if os.path.isdir(real) and not (last and os.path.islink(real)):
            continue
        os.mkdir(real, 0o755)
        created.append(cur)
        fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o755)  # not subject to the umask
            if last:
                os.fchown(fd, owner.uid, owner.gid)
        finally:
            os.close(fd)
    return created


def _open_root(fs: FsRoot, root: str) -> int:
    return os.open(fs.path(root), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)


def _open_dirs_below(fs: FsRoot, root: str, dirs: list, *, owner: Owner | None = None,
                     created: list | None = None) -> int:
    """A descriptor of ``root/dirs[0]/.../dirs[-1]``, every component opened
    relative to its parent with O_NOFOLLOW, so a symlink anywhere below the
    root (even one planted after have() looked) fails with ELOOP instead of
    leading out of the root.  With ``owner``, missing directories are made
    (0755; the last one owned by ``owner``, like :func:`make_dir`) and their
    host paths appended to ``created``."""
    fd = _open_root(fs, root)
    cur = root.rstrip("/")
    try:
        for i, part in enumerate(dirs):
            cur += "/" + part
            made = False
            if owner is not None:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    made = True
                    created.append(cur)
                except FileExistsError:
                    pass
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
            if made:
                os.fchmod(fd, 0o755)
                if i == len(dirs) - 1:
                    os.fchown(fd, owner.uid, owner.gid)
    except BaseException:
        os.close(fd)
        raise
    return fd


def set_attrs(fs: FsRoot, root: str, name: str | None, mode: int, owner: Owner) -> None:
    """Owner and mode of the TFTP root (``name`` None) or of a boot file in
    it, on a descriptor opened without following symlinks."""
    if name is None:
        fd = _open_root(fs, root)
    else:
        parts = name.split("/")
        dfd = _open_dirs_below(fs, root, parts[:-1])
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        finally:
            os.close(dfd)
    try:
        os.fchown(fd, owner.uid, owner.gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def put_file(fs: FsRoot, root: str, name: str, *, src: str | None, content: str | None, mode: int, owner: Owner,
             created: list) -> None:
    """Write boot file ``name`` below the TFTP root ``root`` atomically (a
    guest booting meanwhile gets the old or the new file, never half of
    one), making its missing directories (appended to ``created``).  Every
    directory is opened with O_NOFOLLOW relative to its parent and the file
    is renamed into place by that descriptor, so nothing outside the root is
    ever written."""
    parts = name.split("/")
    dfd = _open_dirs_below(fs, root, parts[:-1], owner=owner, created=created)
    tmp = ".virtnet-%s" % os.urandom(6).hex()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as out:
                if content is not None:
                    out.write(content.encode())
                else:
                    with open(fs.path(src), "rb") as inp:
                        for chunk in iter(lambda: inp.read(1 << 20), b""):
                            out.write(chunk)
                out.flush()
                os.fchown(out.fileno(), owner.uid, owner.gid)
                os.fchmod(out.fileno(), mode)
                os.fsync(out.fileno())
            # rename() replaces a planted symlink itself, never its target
            os.replace(tmp, parts[-1], src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except FileNotFoundError:
                pass
            raise
    finally:
        os.close(dfd)


def remove_created(fs: FsRoot, created: list) -> None:
    for path in reversed(created):
        try:
            os.rmdir(fs.path(path))
        except OSError:
            pass


# --------------------------------------------------------------------------
# SELinux
# --------------------------------------------------------------------------

def selinux_enabled(fs: FsRoot, runner: object | None) -> bool:
    """SELinux is enabled when selinuxfs is mounted (``/sys/fs/selinux/enforce``)
    or ``selinuxenabled`` says so."""
    if fs.exists("/sys/fs/selinux/enforce"):
        return True
    if runner is not None and getattr(runner, "available", False):
        return runner.run([], check=False).ok
    return False


def selinux_reference(fs: FsRoot, wanted: str | None) -> str:
    cands = (wanted,) if wanted else SELINUX_REFERENCES
    for path in cands:
        if fs.exists(path):
            return path
    raise VirtnetError("SELinux is enabled but none of %s exists to copy the label from; set selinux_reference"
                       % ", ".join(cands), option="selinux_reference")


def context_type(context: str | None) -> str | None:
    """``system_u:object_r:dnsmasq_exec_t:s0`` -> ``dnsmasq_exec_t``."""
    if not context:
        return None
    parts = context.split(":")
    return parts[2] if len(parts) >= 3 else None


def fcontext_pattern(root: str) -> str:
    return "%s(/.*)?" % root


def has_fcontext_rule(listing: str, root: str) -> bool:
    """True when ``semanage fcontext -l -C`` lists a local rule for the root."""
    pattern = fcontext_pattern(root)
    return any(line.split()[:1] == [pattern] for line in listing.splitlines())
