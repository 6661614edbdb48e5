"""Batch: manifest runner for many pairs, local processes or Ray."""
