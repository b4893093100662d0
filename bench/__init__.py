"""`rattacher bench`: whole conversations over real HTTP against a fake Bot API (docs/performance.md)."""
