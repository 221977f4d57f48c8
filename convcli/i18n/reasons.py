"""The operating system's reasons for a failure, in convcli's words and language.

``OSError.strerror`` is the C library's English (``No space left on device``), whatever
language convcli speaks. Reasons are worded here from ``errno`` instead; an errno not in
the table is named by its symbol (``ENOTSUP``), which reads the same in every language.

>>> import errno
>>> os_reason(OSError(errno.ENOSPC, "No space left on device"))
'no space left on device'
>>> os_reason(OSError(errno.ENOTSUP, "Operation not supported"))
'system error ENOTSUP'
"""

from __future__ import annotations

import errno

from convcli.i18n import N_, _

__all__ = ["os_reason"]

_REASONS = {
    errno.ENOSPC: N_("no space left on device"),
    errno.EDQUOT: N_("disk quota exceeded"),
    errno.EFBIG: N_("the file is too large for the file system"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("operation not permitted"),
    errno.EROFS: N_("read-only file system"),
    errno.ENOENT: N_("no such file or folder"),
    errno.EEXIST: N_("already exists"),
    errno.EISDIR: N_("is a folder"),
    errno.ENOTDIR: N_("a part of the path is not a folder"),
    errno.ENOTEMPTY: N_("the folder is not empty"),
    errno.ENAMETOOLONG: N_("the file name is too long"),
    errno.ELOOP: N_("too many levels of symbolic links"),
    errno.EXDEV: N_("the paths are on different file systems"),
    errno.EIO: N_("input/output error"),
    errno.EPIPE: N_("broken pipe: the reader has gone"),
    errno.EBADF: N_("the file descriptor is closed"),
    errno.EMFILE: N_("too many open files"),
    errno.ENFILE: N_("too many open files in the system"),
    errno.ENOMEM: N_("not enough memory"),
    errno.EBUSY: N_("device or resource busy"),
    errno.ETXTBSY: N_("the file is busy"),
    errno.ENXIO: N_("no such device or address"),
    errno.ENODEV: N_("no such device"),
    errno.EAGAIN: N_("resource temporarily unavailable"),
    errno.EINTR: N_("interrupted"),
    errno.EINVAL: N_("invalid argument"),
    errno.ESPIPE: N_("the file cannot seek (a pipe?)"),
}


def os_reason(err: BaseException) -> str:
    """Why ``err`` (an ``OSError``) failed, in the output's language: worded from its errno."""
    number = getattr(err, "errno", None)
    if isinstance(number, int):
        if number in _REASONS:
            return _(_REASONS[number])
        return _("system error {name}").format(name=errno.errorcode.get(number, str(number)))
    return _("a system error with no errno")
