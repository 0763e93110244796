"""What every provider trigger shares: poll AEP until an answer, a deadline, or an error.

A subclass says what one check asks and what its answers mean (``_check``); this base holds the
loop: the event loop's shared HTTP session for the whole wait, one deadline scope, the spread first
poll, the schedule that makes the last check end by the deadline, and exactly one event per run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_aep.exceptions import AepApiError, AepError
from airflow_provider_aep.hooks.aep import AdobeExperiencePlatformHook
from airflow_provider_aep.scrubbing import describe
from airflow_provider_aep.wait.alive import AliveLog
from airflow_provider_aep.wait.events import EVENT_ERROR, EVENT_TIMEOUT
from airflow_provider_aep.wait.options import WaitOptions
from airflow_provider_aep.wait.schedule import DEFAULT_POLL_INTERVAL, first_pause, next_pause


class PollingTrigger(BaseTrigger):
    """Polls until ``_check`` returns an event, or the deadline passes.

    :param options: the wait's connection, cancel and request options (``WaitOptions``), or their
        JSON form, as the triggerer passes it back.
    :param poll_interval: seconds between two checks.
    :param deadline: absolute UNIX time (seconds) after which a ``timeout`` event is sent; absolute,
        so that a trigger restarted on another triggerer keeps the same deadline. None waits forever.
    """

    def __init__(
        self,
        options: WaitOptions | Mapping[str, Any] | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.options = WaitOptions() if options is None else WaitOptions.of(options)
        self.poll_interval = poll_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """All the trigger needs to resume, deadline included, on whichever triggerer picks it up."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self._subject_kwargs(),
                "options": self.options.to_json(),
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    def _subject_kwargs(self) -> dict[str, Any]:
        """What the subclass waits on, as JSON keyword arguments of its constructor."""
        raise NotImplementedError

    async def _check(self, hook: AdobeExperiencePlatformHook) -> TriggerEvent | None:
        """One check: the event its answer calls for, or None to poll again."""
        raise NotImplementedError

    def _event(self, status: str, message: str) -> TriggerEvent:
        """An event without details; subclasses add what their task needs to resume."""
        raise NotImplementedError

    def _what(self) -> str:
        """What is waited on, for messages: "export job 123"."""
        raise NotImplementedError

    def _timed_out(self) -> TriggerEvent:
        return self._event(EVENT_TIMEOUT, f"{_sentence(self._what())} did not finish before the deadline.")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yields exactly one event, whatever the API or the provider's own code does."""
        try:
            event = await self._wait()
        except Exception as error:  # a crashed trigger would leave the task no outcome at all
            event = self._event(EVENT_ERROR, f"Waiting for {self._what()} failed: {describe(error)}")
        yield event

    async def _wait(self) -> TriggerEvent:
        hook = self.options.hook()
        # The event loop's shared client for the whole wait, so polls reuse its connections, and one
        # timer, not one per poll: a stalled API or a long Retry-After cannot delay the timeout event.
        async with hook.wait_scope(self._remaining()):
            return await self._poll_until_done(hook)
        return self._timed_out()

    async def _poll_until_done(self, hook: AdobeExperiencePlatformHook) -> TriggerEvent:
        await asyncio.sleep(first_pause(self._remaining(), self.poll_interval))
        alive = AliveLog(self.log, self._what())
        while True:
            try:
                event = await self._check(hook)
            except AepApiError as error:
                if not error.worth_waiting_through:
                    return self._event(EVENT_ERROR, str(error))
                self.log.warning("%s: status unavailable (%s); polling again.", _sentence(self._what()), error)
                event = None
            except AepError as error:
                return self._event(EVENT_ERROR, str(error))
            if event is not None:
                return event
            alive.tick()
            pause, timed_out = next_pause(self._remaining(), self.poll_interval)
            await asyncio.sleep(pause)
            if timed_out:
                return self._timed_out()

    def _remaining(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.time(), 0.0)


def _sentence(text: str) -> str:
    """``text`` to start a sentence; ids keep their case."""
    return text[:1].upper() + text[1:]
