"""Output formats. Each module defines a `Formatter` subclass with a `name`; formatters get a
finished, immutable `ScanResults` and return bytes, deterministically (sorted, no clock)."""
