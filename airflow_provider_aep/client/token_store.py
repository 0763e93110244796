"""IMS tokens kept on disk for every process of a host, readable only by holders of the client secret.

Airflow starts a process per task try, and each would otherwise ask IMS for a token of its own,
which Adobe throttles. Each entry is sealed with AES-GCM under a key derived from the client secret
(HKDF), and bound to its credential's file name: a process without the secret can neither read a
token nor plant one, and an entry copied to another credential's name does not open. Files are
owner-only, opened without following symlinks, and replaced atomically. A store that cannot be
used warns once and is left alone: tokens then live in process memory only, as before.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

_FORMAT = b"aep-ims-token-v1"
_NONCE_BYTES = 12
# A token with its expiry is well under this; a larger file was not written by this store.
MAX_ENTRY_BYTES = 64 * 1024
# How long a process waits for another one's token request before asking IMS itself: longer than a
# token request takes when IMS answers, short enough that a holder stuck in a slow or throttled IMS
# delays the host's other tasks by half a minute at most (they then ask IMS themselves).
DEFAULT_LOCK_WAIT_SECONDS = 30.0
_LOCK_POLL_SECONDS = 0.05
# IMS tokens live 24 hours. An entry claiming far more was written under a clock that has since
# moved back, and is not believed.
MAX_STORED_LIFETIME_SECONDS = 2 * 86_400.0


@dataclass(frozen=True)
class Slot:
    """Where one credential's token lives in a store, and the key that seals it."""

    name: str  # the entry's file name, a digest of the credential's identity
    key: bytes = field(repr=False)  # AES-256 key derived from the client secret

    @classmethod
    def of(cls, identity: tuple[str, ...], secret: str) -> Slot:
        """``identity`` is everything the token depends on, the secret's digest included, never the secret."""
        name = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:40]
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_FORMAT, info=name.encode()).derive(secret.encode())
        return cls(name, key)


class StoreUnusable(OSError):
    """The directory is not private to this user: another could read or replace its entries."""


class StoreLock:
    """The host-wide lock on one slot; held or not, ``release`` is safe and idempotent."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def release(self) -> None:
        """Other processes may fetch from here on."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops its flock

    def __del__(self) -> None:
        # A lock taken in a thread whose caller was cancelled is released when it is dropped.
        self.release()


class TokenStore:
    """Sealed token files in one directory (mode 0700), shared by the processes that use it."""

    def __init__(self, directory: Path, *, lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS) -> None:
        self.directory = directory
        self.lock_wait = lock_wait
        self._broken = False

    def __repr__(self) -> str:
        return f"TokenStore({str(self.directory)!r})"

    @property
    def usable(self) -> bool:
        """False once the store failed: the process then keeps its tokens in memory only."""
        return not self._broken

    def load(self, slot: Slot, *, retire: str | None = None) -> tuple[str, float] | None:
        """The stored token and the seconds it has left, or None.

        An entry that is missing, expired, unreadable, tampered with or sealed under another secret
        is None (the next save replaces it). ``retire`` is a token Platform refused: the entry
        holding it is removed, so no process takes it again.
        """
        with self._directory() as directory:
            if directory is None:
                return None
            data = self._read(directory, slot.name)
            entry = None if data is None else _open(slot, data)
            if entry is not None and retire is not None and entry[0] == retire:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(slot.name, dir_fd=directory)
                return None
            return entry

    def save(self, slot: Slot, value: str, seconds_left: float) -> None:
        """Seal and write the entry, replacing the old one atomically."""
        with self._directory() as directory:
            if directory is None:
                return
            sealed = _seal(slot, value, time.time() + seconds_left)
            temporary = f".{slot.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=directory)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(sealed)
                os.replace(temporary, slot.name, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=directory)
                raise

    def lock(self, slot: Slot) -> StoreLock:
        """The slot's lock, waited for at most ``lock_wait`` seconds; not held when that ran out."""
        with self._directory() as directory:
            if directory is None:
                return StoreLock(None)
            fd = os.open(f"{slot.name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600, dir_fd=directory)
            deadline = time.monotonic() + self.lock_wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return StoreLock(fd)
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        log.warning(
                            "Another process has been fetching an IMS token for %.0f s; fetching one here too.",
                            self.lock_wait,
                        )
                        return StoreLock(None)
                    time.sleep(_LOCK_POLL_SECONDS)
                except BaseException:
                    os.close(fd)
                    raise
        return StoreLock(None)  # the store failed, and said so

    @contextlib.contextmanager
    def _directory(self) -> Iterator[int | None]:
        """The directory's descriptor, checked private; None, with one warning, when it cannot be used.

        Every failure of the store ends here, so no file problem ever fails a task.
        """
        if self._broken:
            yield None
            return
        try:
            directory = self._open_directory()
        except OSError as error:
            self._give_up(error)
            yield None
            return
        try:
            yield directory
        except OSError as error:
            self._give_up(error)
        finally:
            os.close(directory)

    def _open_directory(self) -> int:
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            self.directory.mkdir(mode=0o700)
        directory = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        status = os.fstat(directory)
        if status.st_uid != os.geteuid() or status.st_mode & 0o077:
            os.close(directory)
            raise StoreUnusable(
                errno.EPERM,
                f"it must belong to this user (uid {os.geteuid()}) with mode 0700, and has uid {status.st_uid}, "
                f"mode {stat.S_IMODE(status.st_mode):04o}",
            )
        return directory

    def _read(self, directory: int, name: str) -> bytes | None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:  # a symlink planted in place of an entry: never followed
                return None
            raise
        with os.fdopen(fd, "rb") as entry:
            status = os.fstat(entry.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() or status.st_size > MAX_ENTRY_BYTES:
                return None
            data = entry.read(MAX_ENTRY_BYTES + 1)
            return data if len(data) <= MAX_ENTRY_BYTES else None  # grew since fstat

    def _give_up(self, error: OSError) -> None:
        self._broken = True
        log.warning(
            "The IMS token store %s cannot be used (%s); tokens are kept in this process only.",
            self.directory,
            error.strerror or error,
        )


def _seal(slot: Slot, value: str, expires_at: float) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    payload = json.dumps({"access_token": value, "expires_at": expires_at}).encode()
    return _FORMAT + nonce + AESGCM(slot.key).encrypt(nonce, payload, _FORMAT + slot.name.encode())


def _open(slot: Slot, data: bytes) -> tuple[str, float] | None:
    """The token and its seconds left from a sealed entry; None for anything else."""
    if not data.startswith(_FORMAT):
        return None
    nonce, sealed = data[len(_FORMAT) : len(_FORMAT) + _NONCE_BYTES], data[len(_FORMAT) + _NONCE_BYTES :]
    try:
        entry = json.loads(AESGCM(slot.key).decrypt(nonce, sealed, _FORMAT + slot.name.encode()))
    except (InvalidTag, ValueError):
        return None
    if not isinstance(entry, dict):
        return None
    value, expires_at = entry.get("access_token"), entry.get("expires_at")
    if not isinstance(value, str) or isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        return None
    seconds_left = expires_at - time.time()
    if not math.isfinite(seconds_left) or not 0 < seconds_left <= MAX_STORED_LIFETIME_SECONDS:
        return None
    return value, seconds_left
