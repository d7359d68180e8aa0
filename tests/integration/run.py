"""Runs every integration test (tests/integration/test_*.py) against one test Hub."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    try:
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        harness.stop_hub()
    print("integration: %d tests, %d failures, %d errors, %d skipped" % (
        result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
