"""A job that writes its effect and then takes a while: the worker is killed in between."""

import time

from gongchuang.core import audit, jobs
from gongchuang.core.permissions import SYSTEM


@jobs.job_handler("test.slow_append", lease_seconds=4)
def slow_append(session, job) -> None:
    audit.record(
        session, SYSTEM, "test.slow_append", "job", job.id, after={"attempt": job.attempts}
    )
    session.flush()
    time.sleep(job.payload.get("seconds", 2))
