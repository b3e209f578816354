"""``backlog-close``: run the monthly close from a terminal and print what it published.

It runs the same Dagster job the schedule runs, over a range of months in one run, so
its figures are the UI's figures. Its runs are recorded in the instance at ``DAGSTER_HOME``,
or, when that is unset, in ``<data folder>/dagster_home``: every published version's
``run_id`` names a run an instance has, and ``dagster dev`` started on that folder shows it.
"""

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

import dagster as dg

from backlog_pipeline.cli import close_report
from backlog_pipeline.config_checks import SettingsError
from backlog_pipeline.periods import month_label, parse_month, partition_key
from backlog_pipeline.warehouse.engine import create_warehouse_engine, redacted
from backlog_pipeline.warehouse.reads import read_flow

JOB = "monthly_close"


def _month_bounds(defs: dg.Definitions) -> tuple[int, int]:
    keys = defs.resolve_job_def(JOB).partitions_def.get_partition_keys()
    if not keys:
        raise SettingsError("there is no complete month to close between the start and end month")
    return parse_month(keys[0]), parse_month(keys[-1])


def close_job() -> dg.JobDefinition:
    """The monthly close job with its steps run one after another in this process.

    Dagster rebuilds the job by this function's name (:func:`dg.build_reconstructable_job`).
    ``execute_in_process`` would keep every step's output in memory for the result, which
    at a million contracts holds gigabytes of frames until the run ends.
    """
    from backlog_pipeline.definitions import defs

    in_process = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        resources=defs.resources,
        executor=dg.in_process_executor,
    )
    return in_process.resolve_job_def(JOB)


def _months(args: argparse.Namespace) -> tuple[int, int]:
    """The months asked for, within the code location's partitions by default.

    Reads the settings and builds the definitions: a bad setting raises SettingsError, a
    month outside the partitions a SettingsError naming the months there are.
    """
    from backlog_pipeline.definitions import defs

    start, end = _month_bounds(defs)
    first = parse_month(args.first) if args.first else start
    last = parse_month(args.last) if args.last else end
    for option, month in (("--from", first), ("--to", last)):
        if not start <= month <= end:
            raise SettingsError(
                f"{option} {month_label(month)} is outside the months this close covers, "
                f"{month_label(start)}..{month_label(end)} (BACKLOG_START_MONTH and "
                "BACKLOG_END_MONTH, or the last complete month)"
            )
    return first, last


def _run(first: int, last: int, expect_shrink: bool = False) -> dg.JobExecutionResult:
    from backlog_pipeline.defs.jobs import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
    from backlog_pipeline.defs.policies import ensure_pools
    from backlog_pipeline.source_shrink import EXPECT_SHRINK_TAG

    instance = dg.DagsterInstance.get()  # DAGSTER_HOME, set by ``_use_instance``
    ensure_pools(instance)
    return dg.execute_job(
        dg.build_reconstructable_job("backlog_pipeline.cli.close", "close_job"),
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={
            PARTITION_RANGE_START_TAG: partition_key(first),
            PARTITION_RANGE_END_TAG: partition_key(last),
            **({EXPECT_SHRINK_TAG: "true"} if expect_shrink else {}),
        },
        raise_on_error=False,
    )


def _use_instance() -> str:
    """The instance the runs are recorded in: ``DAGSTER_HOME``, else one in the data folder."""
    from backlog_pipeline.config import settings

    if not os.environ.get("DAGSTER_HOME"):
        home = settings.data_dir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(home)
    return os.environ["DAGSTER_HOME"]


def _warehouse_url() -> str:
    from backlog_pipeline.config import WAREHOUSE_URL, settings

    if settings.warehouse_url_is_set:
        return os.environ[WAREHOUSE_URL]
    return settings.default_warehouse_url


def _print_flow(first: int, last: int) -> None:
    engine = create_warehouse_engine(_warehouse_url())
    flow = read_flow(engine)
    engine.dispose()
    flow = flow[flow["period"].between(month_label(first), month_label(last))]
    print()
    print(flow.fillna("n/a").to_string(index=False))
    print()


def _print_quarantine(result: dg.JobExecutionResult) -> None:
    set_aside = close_report.quarantined(result)
    if set_aside:
        print("Quarantined (left out of the figures; each query lists the rows and reasons):")
        for line in set_aside:
            print(f"  - {line}")


def _report(result: dg.JobExecutionResult, first: int, last: int) -> None:
    """The published flow of the months, the checks that need a look, and where it all is."""
    from backlog_pipeline.config import settings

    _print_flow(first, last)
    print(f"Run {result.run_id} succeeded.")
    _print_quarantine(result)
    needs_a_look = close_report.failures(result)
    if needs_a_look:
        print("Needs a look (published; the records are in table backlog_exceptions):")
        for message in needs_a_look:
            print(f"  - {message}")
    warehouse_url = _warehouse_url()
    print(
        f"Warehouse: {redacted(warehouse_url)} "
        "(tables backlog_flow, contract_backlog, backlog_flow_by_currency, "
        "backlog_flow_constant_currency, publication_versions, publication_fx_rates, "
        "backlog_source_records, backlog_exceptions, source_quarantine; "
        "`backlog-months versions` lists versions)"
    )
    print(f"KPI documents: {settings.output_dir}/<YYYY-MM>/")
    print(
        f"Board pack: {settings.output_dir}/<YYYY-MM>/board_pack.html, "
        f"trend report {settings.output_dir}/backlog_trend.html"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="backlog-close",
        description="Run the bookings-backlog close for a range of months in one Dagster run.",
    )
    parser.add_argument("--from", dest="first", help="first month, YYYY-MM (default: the first)")
    parser.add_argument("--to", dest="last", help="last month, YYYY-MM (default: the last)")
    parser.add_argument(
        "--expect-shrink",
        action="store_true",
        help="a source is expected to have shrunk since the last publication (records really "
        "deleted): its shrink check warns instead of stopping the close",
    )
    args = parser.parse_args(argv)
    # Dagster's notices about beta and preview parameters are for developers, not the close.
    # Set before the code location is imported: importing it builds its definitions.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    try:
        first, last = _months(args)
    except (SettingsError, ValueError, OSError) as error:
        # OSError: a folder a setting names that cannot be created, met while loading.
        print(f"backlog-close: {error}", file=sys.stderr)
        return 2
    if first > last:
        print("backlog-close: --from is after --to", file=sys.stderr)
        return 2

    home = _use_instance()
    print(
        f"Closing {month_label(first)}..{month_label(last)} in one run "
        f"(recorded in the Dagster instance {home})",
        flush=True,
    )
    result = _run(first, last, args.expect_shrink)
    if not result.success:
        _report_failure(result, first, last)
        return 1
    _report(result, first, last)
    return 0


def _report_failure(result: dg.JobExecutionResult, first: int, last: int) -> None:
    """What failed and why; and when the warehouse was written first, that it was."""
    if close_report.warehouse_published(result):
        _print_flow(first, last)
        _print_quarantine(result)
        unwritten = (
            "the board pack was"
            if close_report.failed_steps(result) == {close_report.BOARD_PACK_STEP}
            else "the KPI documents were"
        )
        print(
            f"The close failed (run {result.run_id}) AFTER the warehouse was published: its "
            f"tables hold the figures above, but {unwritten} NOT all written:",
            file=sys.stderr,
        )
    else:
        print(
            f"The close failed (run {result.run_id}); nothing new was published:", file=sys.stderr
        )
    for message in close_report.failures(result) or ["no step reported an error; see the run"]:
        print(f"  - {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
