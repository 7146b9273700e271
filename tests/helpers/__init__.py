"""Test-only models and fixtures shared by the task and CLI tests."""
