"""The benchmark suites; each ``run(ctx)`` returns report tables."""
