"""What publication adds for the RPO disclosure: its warehouse tables as assets, the frames
they are written from, and one more look at its identities right before writing (so a run
that leaves the checks out still cannot publish a disclosure that does not add up).

Written in ``publish_warehouse_tables``' own transaction and version (see
``warehouse/disclosure_publication.py``).
"""

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.disclosure_identities import disclosure_discrepancies
from backlog_pipeline.defs.disclosure import DISCLOSURE_ASSETS
from backlog_pipeline.defs.sources import OWNERS
from backlog_pipeline.warehouse.disclosure_publication import DisclosureFrames

# ``_table``: the graph shows a key's last part only, and each computed asset has the name.
DISCLOSURE_TABLES = tuple(dg.AssetKey(["warehouse", f"{name}_table"]) for name in DISCLOSURE_ASSETS)
DISCLOSURE_INS = {name: dg.AssetIn(name) for name in DISCLOSURE_ASSETS}
DISCLOSURE_SPECS = [
    dg.AssetSpec(
        key,
        deps=[key.path[-1].removesuffix("_table")],
        description=f"Published {key.path[-1].removesuffix('_table')} (see README, The RPO "
        "disclosure), per month, in the flow's transaction and version; replaced rows move "
        "to its _history table.",
        kinds={"sql"},
        owners=OWNERS,
        group_name="published",
    )
    for key in DISCLOSURE_TABLES
]


def disclosure_frames(inputs: dict[str, pd.DataFrame], flow: pd.DataFrame) -> DisclosureFrames:
    """The disclosure inputs of the publisher, refused if an identity does not hold."""
    frames = DisclosureFrames(**{name: inputs[name] for name in DISCLOSURE_ASSETS})
    problems = disclosure_discrepancies(
        frames.rpo_disclosure, frames.rpo_contract_timing, frames.rpo_timing_waterfall,
        frames.rpo_exclusion_register, frames.backlog_slices, flow,
    )  # fmt: skip
    if problems:
        raise dg.Failure(
            description=(
                f"Refusing to publish: {len(problems)} figure(s) of the RPO disclosure do not "
                f"add up; first: {problems[0]}. The previous publication is unchanged."
            ),
            allow_retries=False,
        )
    return frames
