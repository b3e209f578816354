"""How a launched run executes its steps: chosen by ``BACKLOG_EXECUTOR``.

``in_process`` (the default) runs them one after another in the run worker: the isolation
that matters, the close apart from the webserver and the daemon, is the run worker's own
process, and a crashed worker is retried as a run; the steps share one code location load
instead of one per step (a month of the demo in seconds instead of over a minute), and it is
how ``backlog-close`` has always run, at a million contracts too. ``multiprocess`` runs each
step in a child process of the run worker; ``celery`` sends each step to Celery workers on
other machines (``pip install backlog_pipeline[celery]``).
"""

from __future__ import annotations

import dagster as dg

from backlog_pipeline.config import CELERY_BROKER, SettingsError, settings


def _celery() -> dg.ExecutorDefinition:
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise SettingsError(
            'BACKLOG_EXECUTOR=celery needs dagster-celery: pip install "backlog_pipeline[celery]"'
        ) from None
    config: dict[str, object] = {"include": ["backlog_pipeline.definitions"]}
    if settings.celery_broker_is_set:
        config["broker"] = {"env": CELERY_BROKER}
    return celery_executor.configured(config)


def _executor() -> dg.ExecutorDefinition:
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        return _celery()
    return dg.in_process_executor


executor = _executor()
