"""Dagster definitions: assets, checks, resources, schedules and sensors."""
