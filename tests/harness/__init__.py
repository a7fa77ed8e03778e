"""The broker test harness: local broker processes, environment/container overrides, a TCP proxy."""
