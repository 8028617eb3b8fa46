"""Build, test and smoke scripts: what CI runs (test.sh), the README's commands, setup and opt-in checks."""
