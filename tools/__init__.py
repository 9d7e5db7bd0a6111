"""Maintainer tools, never imported by a notebook: main job, benchmarks, sweeps, full-size twins, training, checks."""
