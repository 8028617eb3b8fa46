"""Diffu's developer tools, one folder per job (see tools/README.md).

A package so that every Python tool runs the same way, from the repository root:
    python3 -m tools.FOLDER.NAME [ARGUMENTS]
and imports what the tools share from tools.diffutools with an ordinary import.
"""
