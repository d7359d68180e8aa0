"""Runs every integration test (tests/integration/test_*.py) against one test Hub.

    python3 tests/integration/run.py                        # everything
    python3 tests/integration/run.py test_routes.py         # one module (a glob pattern)
    python3 tests/integration/run.py test_routes.py -k dot  # only tests whose name contains "dot"
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def main():
    args, names = sys.argv[1:], []
    while "-k" in args:  # -k SUBSTR, as unittest's: selects test methods/classes by substring
        i = args.index("-k")
        names.append(args[i + 1] if "*" in args[i + 1] else "*%s*" % args[i + 1])
        del args[i:i + 2]
    pattern = args[0] if args else "test_*.py"
    loader = unittest.TestLoader()
    if names:
        loader.testNamePatterns = names
    suite = loader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    try:
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        harness.stop_hub()
    print("integration: %d tests, %d failures, %d errors, %d skipped" % (
        result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
