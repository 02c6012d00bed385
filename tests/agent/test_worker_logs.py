"""The worker's log stays readable: a line rq repeats every second passes once per interval."""

from __future__ import annotations

import logging

from agent.worker import RepeatFilter


def test_a_repeated_line_passes_once_per_interval_and_other_lines_always(caplog):
    logger = logging.getLogger("test.rq.worker_pool")
    repeat = RepeatFilter("Waiting for workers to shutdown", every=3600)
    logger.addFilter(repeat)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            for _ in range(5):  # what five seconds of a graceful pool stop log
                logger.info("Waiting for workers to shutdown...")
                logger.info("Sent shutdown command to worker with %s", 42)
        messages = [r.getMessage() for r in caplog.records]
        assert messages.count("Waiting for workers to shutdown...") == 1
        assert messages.count("Sent shutdown command to worker with 42") == 5
        repeat.last -= 3600  # an interval later the line passes again
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("Waiting for workers to shutdown...")
        assert [r.getMessage() for r in caplog.records].count("Waiting for workers to shutdown...") == 2
    finally:
        logger.removeFilter(repeat)
