"""Reference controllers, each written from its published description (docs/benchmark.md, "Baselines")."""
