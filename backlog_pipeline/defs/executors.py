"""How a launched run executes its steps: chosen by ``BACKLOG_EXECUTOR``.

``multiprocess`` (Dagster's default) runs each step in a child process of the run worker;
``in_process`` runs them one after another in the run worker (least memory); ``celery``
sends each step to Celery workers on other machines (``pip install backlog_pipeline[celery]``).
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
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "celery":
        return _celery()
    return dg.multiprocess_executor


executor = _executor()
