"""Lets the examples run from a source checkout without installing the package."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FAST = "--fast" in sys.argv  # no artificial delays (the tests run the examples this way)
