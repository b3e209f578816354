"""The Dagster layer: assets, checks, resources and schedules that call into the accounting."""
