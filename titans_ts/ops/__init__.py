"""Sequence ops of titans-ts, each with a reference path beside its fast paths."""
