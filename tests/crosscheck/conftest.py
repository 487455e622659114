"""Cross-checks need the reference packages; without them every test here skips, saying why."""
