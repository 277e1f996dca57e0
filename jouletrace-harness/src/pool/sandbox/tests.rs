//! Unit tests of the sandbox that need no Python.
