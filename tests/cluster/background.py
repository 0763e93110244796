"""A step repeated in a thread while a block runs: sampling the database, supervising components."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def repeating(step: Callable[[], None], every: float) -> Iterator[None]:
    """Runs ``step`` every ``every`` seconds until the block ends. The first error of a step ends
    the repeats and is raised in the block's thread once the block is done, so a test never passes
    over a step that failed."""
    errors: list[BaseException] = []
    done = threading.Event()

    def repeat() -> None:
        try:
            while not done.wait(every):
                step()
        except BaseException as error:  # raised again in the test's thread
            errors.append(error)

    thread = threading.Thread(target=repeat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "a repeated step did not end"
    if errors:
        raise errors[0]
