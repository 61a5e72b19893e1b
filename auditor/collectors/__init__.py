"""Collectors own all I/O with the outside world and return facts; they never judge.

A collector is a `Collector` subclass in a module of this package; the runner discovers them
and runs those whose `kinds` include the target's kind, in `order`.
"""
