"""Tools that ship with Interleaf, registered under the `interleaf.tools` entry points."""
